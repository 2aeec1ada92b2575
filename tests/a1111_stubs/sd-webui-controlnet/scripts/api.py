"""Stand-in for ``/controlnet/detect`` (scripts/api.py), taking numpy images instead of base64.

Like the real endpoint: the module is looked up by label or name; a resolution outside
the preprocessor's slider range (the API's default is -1) becomes the slider default;
the call goes through ``cached_call`` with a ``json_pose_callback`` and ``low_vram``;
for a module whose name contains "openpose" a pose must have been reported; the
preprocessor is unloaded afterwards.
"""
from scripts.supported_preprocessor import Preprocessor


class HTTPException(Exception):
    def __init__(self, status_code, detail):
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


def detect(controlnet_module="none", controlnet_input_images=(), controlnet_processor_res=-1,
           controlnet_threshold_a=-1, controlnet_threshold_b=-1, low_vram=False):
    preprocessor = Preprocessor.get_preprocessor(controlnet_module)
    if preprocessor is None:
        raise HTTPException(422, "Module not available")
    if len(controlnet_input_images) == 0:
        raise HTTPException(422, "No image selected")

    def in_range(value, param):
        return value if param.minimum <= value <= param.maximum else param.value

    resolution = in_range(controlnet_processor_res, preprocessor.slider_resolution)
    slider_1 = in_range(controlnet_threshold_a, preprocessor.slider_1)
    slider_2 = in_range(controlnet_threshold_b, preprocessor.slider_2)

    images, poses = [], []
    for image in controlnet_input_images:
        accepted = []
        result = preprocessor.cached_call(image, resolution=resolution, slider_1=slider_1, slider_2=slider_2,
                                          json_pose_callback=accepted.append, low_vram=low_vram)
        images.append(result.display_images[0])
        if "openpose" in controlnet_module:
            assert accepted, "an openpose module must report its pose"
            poses.append(accepted[-1])
    preprocessor.unload()
    response = {"info": "Success", "images": images}
    if poses:
        response["poses"] = poses
    return response
