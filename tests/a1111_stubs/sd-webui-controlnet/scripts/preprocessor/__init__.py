"""Stand-in built-ins, registered when the registry's package is imported (as the real
extension does). ``dw_openpose_full`` is a model-free toy here: it only records calls."""
import numpy as np

from scripts.supported_preprocessor import Preprocessor


class PreprocessorNone(Preprocessor):
    def __init__(self):
        super().__init__(name="none")
        self.sorting_priority = 10

    def __call__(self, input_image, resolution, slider_1=None, slider_2=None, slider_3=None,
                 input_mask=None, **kwargs):
        return input_image


class PreprocessorBuiltinDWPose(Preprocessor):
    def __init__(self):
        super().__init__(name="dw_openpose_full")
        self.tags = ["OpenPose"]
        self.unload_calls = 0

    def __call__(self, input_image, resolution, slider_1=None, slider_2=None, slider_3=None,
                 input_mask=None, json_pose_callback=None, **kwargs):
        h, w = np.asarray(input_image).shape[:2]
        if json_pose_callback:
            json_pose_callback({"people": [], "animals": [], "canvas_width": w, "canvas_height": h})
        return np.zeros((h, w, 3), np.uint8)

    def unload(self):
        self.unload_calls += 1
        return False


Preprocessor.add_supported_preprocessor(PreprocessorNone())
Preprocessor.add_supported_preprocessor(PreprocessorBuiltinDWPose())
