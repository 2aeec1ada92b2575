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

CATEGORY = "DWPose"

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


def _setup(detector, pose, backend="auto", device="auto", precision="fp32", det_size=0):
    from dwpose_core.estimator_pool import ModelSetup

    return ModelSetup(model_ref(detector), model_ref(pose), backend=backend, device=_device(device),
                      precision=precision, det_size=int(det_size) or None, device_option="device")


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


class DWPoseModelLoader:
    DESCRIPTION = ("Loads a DWPose detector + pose model once, for one or more DWPose Estimator nodes "
                   "(connect to their optional dwpose_model input).")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("DWPOSE_MODEL",)
    RETURN_NAMES = ("dwpose_model",)
    OUTPUT_TOOLTIPS = ("Detector + pose model, backend, device and precision for DWPose Estimator.",)
    FUNCTION = "load_model"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "bbox_detector": (choices.model_names("detector", comfy_bridge.folder_files()), {"default": choices.DEFAULT_DETECTOR,
                                                                    "tooltip": TIP_DETECTOR}),
                "pose_estimator": (choices.model_names("pose", comfy_bridge.folder_files()), {"default": choices.DEFAULT_POSE,
                                                                 "tooltip": TIP_POSE}),
                "backend": (choices.backends(), {"default": "auto", "tooltip": TIP_BACKEND}),
                "precision": (choices.PRECISIONS, {"default": "fp32", "tooltip": TIP_PRECISION}),
                "device": (choices.DEVICES, {"default": "auto", "tooltip": TIP_DEVICE}),
            },
            "optional": {  # appended 2026-12
                "det_size": ("INT", {"default": 0, "min": 0, "max": 1280, "step": 32, "tooltip": TIP_DET_SIZE}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def load_model(self, bbox_detector, pose_estimator, backend="auto", precision="fp32", device="auto",
                   det_size=0, unique_id=None):
        model = DWPoseModel(_setup(bbox_detector, pose_estimator, backend, device, precision, det_size),
                            f"loader:{unique_id}")
        model.estimator()  # load now, so that a missing file is reported on this node
        return (model,)


class DWPoseEstimator:
    DESCRIPTION = ("Finds people and their 133 whole-body keypoints (body, feet, face, hands) in every frame "
                   "of an image batch; outputs OpenPose-style pose images for ControlNet and the keypoints "
                   "as POSE_KEYPOINT.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE", "POSE_KEYPOINT", "BOUNDING_BOX")
    RETURN_NAMES = ("image", "pose_keypoint", "bboxes")
    OUTPUT_TOOLTIPS = (
        "Pose images (black background, OpenPose colours), one per input frame.",
        "Keypoints per frame, OpenPose JSON layout plus the lossless 133-point field.",
        "The kept people's boxes per frame (ComfyUI core's BOUNDING_BOX: x, y, width, height).",
    )
    FUNCTION = "estimate_pose"
    # The preview is UI output: resent when ComfyUI serves this node from its cache.
    HAS_INTERMEDIATE_OUTPUT = True

    @classmethod
    def IS_CHANGED(cls, continue_clip=None, **_inputs):
        return clip_state.is_changed(continue_clip)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Image or batch of frames (a video's frames go through in one call)."}),
                "detect_hand": (choices.ENABLE_DISABLE, {"default": "enable",
                                                         "tooltip": "Keep and draw the 21 points of each hand."}),
                "detect_body": (choices.ENABLE_DISABLE, {"default": "enable",
                                                         "tooltip": "Keep and draw the body (OpenPose 18 points)."}),
                "detect_face": (choices.ENABLE_DISABLE, {"default": "enable",
                                                         "tooltip": "Keep and draw the 68 face landmarks."}),
                "resolution": ("INT", {"default": choices.DEFAULT_RESOLUTION, "min": 0, "max": 16384, "step": 8,
                                       "tooltip": "Short side of the pose images in pixels (rounded to a multiple "
                                                  "of 8); 0 = the input's own size. Keypoints stay in input pixels."}),
                "bbox_detector": (choices.model_names("detector", comfy_bridge.folder_files()), {"default": choices.DEFAULT_DETECTOR,
                                                                    "tooltip": TIP_DETECTOR}),
                "pose_estimator": (choices.model_names("pose", comfy_bridge.folder_files()), {"default": choices.DEFAULT_POSE,
                                                                 "tooltip": TIP_POSE}),
                "scale_stick_for_xinsir_cn": (choices.DISABLE_ENABLE, {
                    "default": "disable",
                    "tooltip": "Thicker limbs on large images, as xinsir's SDXL openpose ControlNet expects."}),
                "detect_feet": (choices.DISABLE_ENABLE, {
                    "default": "disable",
                    "tooltip": "Keep and draw the 6 foot points (toes, heels). Off by default: the common "
                               "openpose ControlNets were trained without feet."}),
                "backend": (choices.backends(), {"default": "auto", "tooltip": TIP_BACKEND}),
                "detection_threshold": ("FLOAT", {"default": 0.3, "min": 0.01, "max": 1.0, "step": 0.01,
                                                  "tooltip": "Minimum detector confidence for a person."}),
                "person_selection": (choices.SELECTION_MODES, {
                    "default": "all",
                    "tooltip": "Which people to keep: all; the largest; the most confident; or the top_k "
                               "largest. With tracking on, chosen per track over the whole clip."}),
                "top_k": ("INT", {"default": 1, "min": 1, "max": 100,
                                  "tooltip": "How many people person_selection=top_k keeps."}),
            },
            "optional": {
                "dwpose_model": ("DWPOSE_MODEL", {
                    "tooltip": "Models from DWPose Model Loader; when connected, bbox_detector, pose_estimator "
                               "and backend here are ignored."}),
                # Video options (appended; keep after every earlier widget).
                "tracking": ("BOOLEAN", {"default": False,
                                         "tooltip": "Keep each person's identity across the frames of the batch "
                                                    "(track_id in the JSON); person selection then follows tracks."}),
                "smoothing": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 4.0, "step": 0.05,
                                        "tooltip": "Temporal smoothing strength over the whole batch (0 = off, "
                                                   "1 = typical). Removes jitter without lag; fast motion is kept."}),
                "detect_every": ("INT", {"default": 1, "min": 1, "max": 120,
                                         "tooltip": "Run the person detector on every N-th frame only; in between, "
                                                    "boxes follow the previous frame's keypoints. Faster on video."}),
                "continue_clip": ("BOOLEAN", {"default": False, "tooltip": clip_state.TIP_ESTIMATOR}),
                # Appended 2026-12 (keep after every earlier widget).
                "profile": (choices.profiles(), {"default": choices.DEFAULT_PROFILE, "tooltip": choices.TIP_PROFILE}),
                "max_detections": ("INT", {"default": 100, "min": 1, "max": 1000,
                                           "tooltip": "At most this many people per frame go on to the pose "
                                                      "stage (the most confident first)."}),
                "det_size": ("INT", {"default": 0, "min": 0, "max": 1280, "step": 32,
                                     "tooltip": TIP_DET_SIZE}),
                "bboxes": ("BOUNDING_BOX", {"forceInput": True, "tooltip": "Person boxes per frame from another node (ComfyUI core's "
                                                       "BOUNDING_BOX); when connected the detector does not run."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def estimate_pose(self, image, detect_hand="enable", detect_body="enable", detect_face="enable",
                      resolution=choices.DEFAULT_RESOLUTION, bbox_detector=choices.DEFAULT_DETECTOR,
                      pose_estimator=choices.DEFAULT_POSE, scale_stick_for_xinsir_cn="disable",
                      detect_feet="disable", backend="auto", detection_threshold=0.3, person_selection="all",
                      top_k=1, dwpose_model=None, tracking=False, smoothing=0.0, detect_every=1,
                      continue_clip=False, profile=choices.DEFAULT_PROFILE, max_detections=100, det_size=0,
                      bboxes=None, unique_id=None):
        from dwpose_core.annotate import AnnotateOptions, ClipState, Parts

        frames = image_batch_to_frames(image, "DWPose Estimator")
        if dwpose_model is None:
            dwpose_model = DWPoseModel(_setup(bbox_detector, pose_estimator, backend, det_size=det_size),
                                       f"estimator:{unique_id}")
        parts = Parts(body=choices.flag(detect_body), hands=choices.flag(detect_hand),
                      face=choices.flag(detect_face), feet=choices.flag(detect_feet))
        options = AnnotateOptions(
            parts=parts, selection=person_selection, top_k=int(top_k), det_threshold=float(detection_threshold),
            max_detections=int(max_detections), tracking=bool(tracking), smoothing=float(smoothing),
            det_every=int(detect_every), resolution=int(resolution) or None,
            xinsir=choices.flag(scale_stick_for_xinsir_cn), profile=profile)
        # One clip: same frame size, same models. Anything else starts afresh.
        slot, clip_key = f"estimator:{unique_id}", (frames[0].shape[:2], dwpose_model.spec)
        state = clip_state.STATES.start(slot, clip_key, ClipState, bool(continue_clip))
        result = run_annotator(dwpose_model, options, frames, node_id=unique_id, state=state, boxes=bboxes)
        clip_state.STATES.finish(slot, clip_key, state)
        summary = summarise(result.poses, pose_keypoint=result.pose_keypoint, **parts.as_dict())
        return {"ui": ui_output(summary),
                "result": (frames_to_image_batch(result.pictures), result.pose_keypoint,
                           _bounding_boxes(result.boxes))}


def _bounding_boxes(boxes) -> list:
    """Per frame a list of {x, y, width, height} (ComfyUI core's BOUNDING_BOX)."""
    from dwpose_core.formats.boxes import to_bounding_boxes

    return to_bounding_boxes(boxes)
