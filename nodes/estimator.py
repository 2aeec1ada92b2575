"""DWPose Estimator and DWPose Model Loader.

Widget order is public: saved workflows store widget values by position, so
new widgets are only ever appended (at the end of "optional").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from . import choices, clip_state, comfy_bridge
from .convert import frames_to_image_batch, image_batch_to_frames
from .summary import summarise, ui_output
from .v3 import CATEGORY, SEARCH_ALIASES, DWPoseModelType, PoseKeypoint, io, node_id, output

TIP_DETECTOR = ("Person detector. 'none' treats the whole image as one person (fast; good for single-person "
                "crops). Files are looked for in models/dwpose (and extra_model_paths.yaml 'dwpose:' folders); "
                "known names are downloaded there on first use.")
TIP_POSE = ("Whole-body pose model (133 keypoints). dw-ll_ucoco_384 is the most accurate; .pth checkpoints "
            "need the torch backend.")
TIP_BACKEND = ("auto: torch on ComfyUI's GPU when available, else ONNX Runtime. torch: runs the models in "
               "ComfyUI's own torch (no onnxruntime-gpu needed). onnxruntime: ONNX Runtime with its best provider.")
TIP_PRECISION = "Weights precision for the torch backend (ONNX Runtime always runs the file as exported)."
TIP_DET_SIZE = ("Detector input size, a multiple of 32 from 320 to 1280; 0 = the model file's own (640 for "
                "yolox_l). Smaller is faster and finds fewer small or distant people: 416 is plenty for one "
                "person filling the frame.")
TIP_DEVICE = "auto: ComfyUI's torch device (see its --cpu / --cuda-device options). cpu: force the CPU."


@dataclass(frozen=True)
class DWPoseModel:
    """The DWPOSE_MODEL value: which models to use; the estimator itself lives in the core's pool."""

    spec: "ModelSetup"  # noqa: F821 - dwpose_core.estimator_pool.ModelSetup, imported lazily
    slot: str

    def estimator(self):
        from dwpose_core.estimator_pool import POOL

        return POOL.get(self.slot, self.spec)


def _setup(detector, pose, backend="auto", device="auto", precision="fp32", det_size=0,
           preset=choices.PRESET_CUSTOM, refine_hands=choices.REFINE_OFF):
    """The core's ModelSetup for the widgets. A preset other than custom sets the detector, its size and the
    pose model (the widgets always hold a value, so the preset wins over them); refine_hands 'off' = None."""
    from dwpose_core.estimator_pool import ModelSetup

    if preset not in (None, "", choices.PRESET_CUSTOM):
        from dwpose_core.hub import presets

        chosen = presets.apply(preset)
        detector, pose, det_size = chosen["detector"], chosen["pose"], chosen["det_size"] or 0
    hands = None if refine_hands in (None, "", choices.REFINE_OFF) else model_ref(refine_hands)
    return ModelSetup(model_ref(detector), model_ref(pose), backend=backend, device=_device(device),
                      precision=precision, det_size=int(det_size) or None, device_option="device",
                      refine_hands=hands)


def model_ref(name: Optional[str]) -> Optional[str]:
    """A combo value -> what the core resolves: None for no detector, registry names as they are
    (the hub finds or downloads them), other files in the model folders as full paths."""
    if name in (choices.NO_DETECTOR, "", None):
        return None
    from dwpose_core.hub.registry import find_spec

    if find_spec(name) is not None:
        return name
    return comfy_bridge.full_path(name) or name


def _device(device: str = "auto") -> str:
    return "cpu" if device == "cpu" else comfy_bridge.torch_device()


def _model_bytes(estimator) -> int:
    from .model_cache import estimator_models

    total = 0
    for model in estimator_models(estimator):
        try:
            total += os.path.getsize(model.path)
        except (OSError, TypeError, AttributeError):
            pass
    return total


def run_annotator(dwpose_model: DWPoseModel, options, frames, *, node_id=None, state=None, boxes=None):
    """Load (or reuse) the models and run the core's job on a whole batch, with progress and interrupts."""
    comfy_bridge.check_interrupt()
    from dwpose_core.annotate import PoseAnnotator

    from .model_cache import estimator_models

    estimator = dwpose_model.estimator()
    # torch networks go through ComfyUI's model management; for ONNX Runtime on a GPU, ask ComfyUI
    # to make room for the weights plus one chunk's activations (it unloads its own models if needed).
    if not comfy_bridge.manage_torch_models(estimator_models(estimator)):
        comfy_bridge.make_room(dwpose_model.spec.device or "", 2 * _model_bytes(estimator) + (512 << 20))
    progress = comfy_bridge.Progress(len(frames), node_id=node_id)
    return PoseAnnotator(estimator, options)(frames, state=state, boxes=boxes, progress=progress.callback)


def _model_inputs() -> list:
    """bbox_detector and pose_estimator combos: what is on disk, then what can be downloaded."""
    files = comfy_bridge.folder_files()
    return [
        io.Combo.Input("bbox_detector", options=choices.model_names("detector", files),
                       default=choices.DEFAULT_DETECTOR, tooltip=TIP_DETECTOR),
        io.Combo.Input("pose_estimator", options=choices.model_names("pose", files),
                       default=choices.DEFAULT_POSE, tooltip=TIP_POSE),
    ]


def check_models(node: str, bbox_detector=None, pose_estimator=None, backend=None, refine_hands=None) -> "bool | str":
    """validate_inputs of the nodes with model combos: True, or why the choice cannot run.

    Taking these inputs in validate_inputs replaces ComfyUI's own "value not in list" check for
    them, so it is done here too: a name must be one the combo lists now. Then the pair with the
    backend must be runnable: a torch checkpoint (.pth, .pt, .safetensors ...) cannot run on ONNX
    Runtime. A linked (None) value is checked when the node runs.
    """
    files = comfy_bridge.folder_files()
    for name, kind, value in (("bbox_detector", "detector", bbox_detector), ("pose_estimator", "pose", pose_estimator)):
        if value is None:
            continue
        listed = choices.model_names(kind, files)
        if value not in listed:
            return (f"{node}: {name} {value!r} is not in models/dwpose and is not a known download; "
                    f"choose one of the list (refresh the page after adding files).")
    if refine_hands is not None and refine_hands not in choices.hand_models():
        return f"{node}: refine_hands {refine_hands!r} is not a hand model; choose one of {', '.join(choices.hand_models())}."
    if backend is not None and backend not in choices.backends():
        return f"{node}: backend {backend!r} is not available here; choose one of {', '.join(choices.backends())}."
    if backend == "onnxruntime":
        for name, value in (("bbox_detector", bbox_detector), ("pose_estimator", pose_estimator),
                            ("refine_hands", refine_hands)):
            if isinstance(value, str) and value.lower().endswith(_torch_only_suffixes()):
                return (f"{node}: {name} {value!r} is a torch checkpoint; ONNX Runtime runs only .onnx files. "
                        f"Set backend to torch (or auto), or pick an .onnx model.")
    return True


def _torch_only_suffixes() -> tuple:
    try:
        from dwpose_core.hub.registry import TORCH_ONLY_SUFFIXES
    except ImportError:
        TORCH_ONLY_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")
    return tuple(TORCH_ONLY_SUFFIXES)


class DWPoseModelLoader(io.ComfyNode):
    """Detector + pose model, loaded once for one or more estimators."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseModelLoader",
            display_name="DWPose Model Loader",
            category=CATEGORY,
            description=("Loads a DWPose detector + pose model once, for one or more DWPose Estimator nodes "
                         "(connect to their optional dwpose_model input)."),
            search_aliases=SEARCH_ALIASES,
            inputs=[
                *_model_inputs(),
                io.Combo.Input("backend", options=choices.backends(), default="auto", tooltip=TIP_BACKEND),
                io.Combo.Input("precision", options=choices.PRECISIONS, default="fp32", tooltip=TIP_PRECISION),
                io.Combo.Input("device", options=choices.DEVICES, default="auto", tooltip=TIP_DEVICE),
                # appended 2026-12
                io.Int.Input("det_size", default=0, min=0, max=1280, step=32, optional=True, tooltip=TIP_DET_SIZE),
                # appended 2026-12, second wave (keep after every earlier widget)
                io.Combo.Input("preset", options=choices.presets(), default=choices.PRESET_CUSTOM, optional=True,
                               tooltip=choices.TIP_PRESET),
            ],
            outputs=[DWPoseModelType.Output("dwpose_model", display_name="dwpose_model",
                                            tooltip="Detector + pose model, backend, device and precision for "
                                                    "DWPose Estimator.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, bbox_detector=None, pose_estimator=None, backend=None):
        return check_models("DWPose Model Loader", bbox_detector, pose_estimator, backend)

    @classmethod
    def execute(cls, bbox_detector, pose_estimator, backend="auto", precision="fp32", device="auto", det_size=0,
                preset=choices.PRESET_CUSTOM):
        model = DWPoseModel(_setup(bbox_detector, pose_estimator, backend, device, precision, det_size, preset),
                            f"loader:{node_id(cls)}")
        comfy_bridge.check_interrupt()
        model.estimator()  # load now, so that a missing file is reported on this node
        return io.NodeOutput(model)


class DWPoseEstimator(io.ComfyNode):
    """Image batch -> pose images, POSE_KEYPOINT, person boxes."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseEstimator",
            display_name="DWPose Estimator",
            category=CATEGORY,
            description=("Finds people and their 133 whole-body keypoints (body, feet, face, hands) in every frame "
                         "of an image batch; outputs OpenPose-style pose images for ControlNet and the keypoints "
                         "as POSE_KEYPOINT."),
            search_aliases=SEARCH_ALIASES + ["preprocessor", "controlnet"],
            # The preview is UI output: resent when ComfyUI serves this node from its cache.
            has_intermediate_output=True,
            inputs=[
                io.Image.Input("image", tooltip="Image or batch of frames (a video's frames go through in one call)."),
                io.Combo.Input("detect_hand", options=choices.ENABLE_DISABLE, default="enable",
                               tooltip="Keep and draw the 21 points of each hand."),
                io.Combo.Input("detect_body", options=choices.ENABLE_DISABLE, default="enable",
                               tooltip="Keep and draw the body (OpenPose 18 points)."),
                io.Combo.Input("detect_face", options=choices.ENABLE_DISABLE, default="enable",
                               tooltip="Keep and draw the 68 face landmarks."),
                io.Int.Input("resolution", default=choices.DEFAULT_RESOLUTION, min=0, max=16384, step=8,
                             tooltip="Short side of the pose images in pixels (rounded to a multiple "
                                     "of 8); 0 = the input's own size. Keypoints stay in input pixels."),
                *_model_inputs(),
                io.Combo.Input("scale_stick_for_xinsir_cn", options=choices.DISABLE_ENABLE, default="disable",
                               tooltip="Thicker limbs on large images, as xinsir's SDXL openpose ControlNet expects."),
                io.Combo.Input("detect_feet", options=choices.DISABLE_ENABLE, default="disable",
                               tooltip="Keep and draw the 6 foot points (toes, heels). Off by default: the common "
                                       "openpose ControlNets were trained without feet."),
                io.Combo.Input("backend", options=choices.backends(), default="auto", tooltip=TIP_BACKEND),
                io.Float.Input("detection_threshold", default=0.3, min=0.01, max=1.0, step=0.01,
                               tooltip="Minimum detector confidence for a person."),
                io.Combo.Input("person_selection", options=choices.SELECTION_MODES, default="all",
                               tooltip="Which people to keep: all; the largest; the most confident; or the top_k "
                                       "largest. With tracking on, chosen per track over the whole clip."),
                io.Int.Input("top_k", default=1, min=1, max=100, tooltip="How many people person_selection=top_k keeps."),
                DWPoseModelType.Input("dwpose_model", optional=True,
                                      tooltip="Models from DWPose Model Loader; when connected, bbox_detector, "
                                              "pose_estimator and backend here are ignored."),
                # Video options (appended; keep after every earlier widget).
                io.Boolean.Input("tracking", default=False, optional=True,
                                 tooltip="Keep each person's identity across the frames of the batch "
                                         "(track_id in the JSON); person selection then follows tracks."),
                io.Float.Input("smoothing", default=0.0, min=0.0, max=4.0, step=0.05, optional=True,
                               tooltip="Temporal smoothing strength over the whole batch (0 = off, "
                                       "1 = typical). Removes jitter without lag; fast motion is kept."),
                io.Int.Input("detect_every", default=1, min=1, max=120, optional=True,
                             tooltip="Run the person detector on every N-th frame only; in between, "
                                     "boxes follow the previous frame's keypoints. Faster on video."),
                io.Boolean.Input("continue_clip", default=False, optional=True, tooltip=clip_state.TIP_ESTIMATOR),
                # Appended 2026-12 (keep after every earlier widget).
                io.Combo.Input("profile", options=choices.profiles(), default=choices.DEFAULT_PROFILE, optional=True,
                               tooltip=choices.TIP_PROFILE),
                io.Int.Input("max_detections", default=100, min=1, max=1000, optional=True,
                             tooltip="At most this many people per frame go on to the pose "
                                     "stage (the most confident first)."),
                io.Int.Input("det_size", default=0, min=0, max=1280, step=32, optional=True, tooltip=TIP_DET_SIZE),
                io.BoundingBox.Input("bboxes", optional=True, force_input=True,
                                     tooltip="Person boxes per frame from another node (ComfyUI core's "
                                             "BOUNDING_BOX); when connected the detector does not run."),
                # Appended 2026-12, second wave (keep after every earlier widget).
                io.Combo.Input("preset", options=choices.presets(), default=choices.PRESET_CUSTOM, optional=True,
                               tooltip=choices.TIP_PRESET),
                io.Combo.Input("refine_hands", options=choices.hand_models(), default=choices.REFINE_OFF,
                               optional=True, tooltip=choices.TIP_REFINE_HANDS),
            ],
            outputs=[
                io.Image.Output("image", display_name="image",
                                tooltip="Pose images (black background, OpenPose colours), one per input frame."),
                PoseKeypoint.Output("pose_keypoint", display_name="pose_keypoint",
                                    tooltip="Keypoints per frame, OpenPose JSON layout plus the lossless 133-point field."),
                io.BoundingBox.Output("bboxes", display_name="bboxes",
                                      tooltip="The kept people's boxes per frame (ComfyUI core's BOUNDING_BOX: x, y, "
                                              "width, height)."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def fingerprint_inputs(cls, continue_clip=None, **_inputs):
        return clip_state.is_changed(continue_clip)

    @classmethod
    def validate_inputs(cls, bbox_detector=None, pose_estimator=None, backend=None, refine_hands=None):
        return check_models("DWPose Estimator", bbox_detector, pose_estimator, backend, refine_hands)

    @classmethod
    def execute(cls, image, detect_hand="enable", detect_body="enable", detect_face="enable",
                resolution=choices.DEFAULT_RESOLUTION, bbox_detector=choices.DEFAULT_DETECTOR,
                pose_estimator=choices.DEFAULT_POSE, scale_stick_for_xinsir_cn="disable",
                detect_feet="disable", backend="auto", detection_threshold=0.3, person_selection="all",
                top_k=1, dwpose_model=None, tracking=False, smoothing=0.0, detect_every=1,
                continue_clip=False, profile=choices.DEFAULT_PROFILE, max_detections=100, det_size=0,
                bboxes=None, preset=choices.PRESET_CUSTOM, refine_hands=choices.REFINE_OFF):
        from dwpose_core.annotate import AnnotateOptions, ClipState, Parts

        unique_id = node_id(cls)
        frames = image_batch_to_frames(image, "DWPose Estimator")
        if dwpose_model is None:
            dwpose_model = DWPoseModel(_setup(bbox_detector, pose_estimator, backend, det_size=det_size,
                                              preset=preset, refine_hands=refine_hands), f"estimator:{unique_id}")
        elif refine_hands not in (None, "", choices.REFINE_OFF):  # the loader's models plus this node's hand pass
            import dataclasses

            dwpose_model = DWPoseModel(dataclasses.replace(dwpose_model.spec, refine_hands=model_ref(refine_hands)),
                                       f"estimator:{unique_id}")
        parts = Parts(body=choices.flag(detect_body), hands=choices.flag(detect_hand),
                      face=choices.flag(detect_face), feet=choices.flag(detect_feet))
        options = AnnotateOptions(
            parts=parts, selection=person_selection, top_k=int(top_k), det_threshold=float(detection_threshold),
            max_detections=int(max_detections), tracking=bool(tracking), smoothing=float(smoothing),
            det_every=int(detect_every), resolution=int(resolution) or None,
            xinsir=choices.flag(scale_stick_for_xinsir_cn), profile=profile)
        # One clip (per node, by its hidden unique_id): same frame size, same models. Anything else starts afresh.
        slot, clip_key = f"estimator:{unique_id}", (frames[0].shape[:2], dwpose_model.spec)
        state = clip_state.STATES.start(slot, clip_key, ClipState, bool(continue_clip))
        result = run_annotator(dwpose_model, options, frames, node_id=unique_id, state=state, boxes=bboxes)
        clip_state.STATES.finish(slot, clip_key, state)
        summary = summarise(result.poses, pose_keypoint=result.pose_keypoint, **parts.as_dict())
        return output(frames_to_image_batch(result.pictures), result.pose_keypoint,
                      _bounding_boxes(result.boxes), ui_dict=ui_output(summary))


def _bounding_boxes(boxes) -> list:
    """Per frame a list of {x, y, width, height} (ComfyUI core's BOUNDING_BOX)."""
    from dwpose_core.formats.boxes import to_bounding_boxes

    return to_bounding_boxes(boxes)
