"""Nodes for video-generation models: retarget a clip to a reference character; face crops.

Thin adapters over dwpose_core.animate.retarget and dwpose_core.animate.face_crops. Widgets are only ever
appended (saved workflows store widget values by position).
"""
from __future__ import annotations

from . import comfy_bridge
from .convert import frames_to_image_batch, image_batch_to_frames
from .pose_nodes import POSE_INPUT, export, read_frames

CATEGORY = "DWPose"


def parse_track_ids(text: str, node_name: str) -> list[int]:
    """"0, 2" -> [0, 2]; an empty text -> [] (every track)."""
    from dwpose_core.selection.people import parse_indices

    try:
        return parse_indices(text, "track_ids")
    except ValueError as exc:
        raise ValueError(f"{node_name}: {exc}, or leave it empty for every track.") from None


class DWPoseRetarget:
    DESCRIPTION = ("Re-proportions a pose clip to a reference character: every frame keeps the clip's joint "
                   "angles and motion and takes the reference's bone lengths (measured robustly over the whole "
                   "clip, left/right consistent, clamped), hands and face scaled to the reference, feet on the "
                   "reference's ground line; the output is in the reference's canvas. The reference is a pose "
                   "(its first frame) or a picture, run through DWPose.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT",)
    RETURN_NAMES = ("pose_keypoint",)
    OUTPUT_TOOLTIPS = ("The retargeted poses, in the reference's canvas, same frames, people and track ids.",)
    FUNCTION = "retarget"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose_keypoint": POSE_INPUT,
                "reference_people": (["auto", "same"], {
                    "default": "auto",
                    "tooltip": "auto: each track gets its own reference person (paired left to right) when the "
                               "reference has enough people, else all take the largest. same: every track takes "
                               "the largest reference person."}),
                "feet_on_ground": ("BOOLEAN", {
                    "default": True,
                    "tooltip": "When the reference shows its whole body, keep the feet on its ground line."}),
                "length_quantile": ("FLOAT", {
                    "default": 0.9, "min": 0.5, "max": 1.0, "step": 0.01,
                    "tooltip": "Which quantile of each bone's length over the clip is its true length "
                               "(foreshortening only shortens bones; 0.9 ignores a few outliers)."}),
                "max_ratio_spread": ("FLOAT", {
                    "default": 2.5, "min": 1.0, "max": 10.0, "step": 0.1,
                    "tooltip": "A limb's ratio stays within this factor of the body's overall scale ratio."}),
            },
            "optional": {
                "reference_image": ("IMAGE", {"tooltip": "Reference picture (its first image); DWPose finds "
                                                         "the character in it. Ignored when reference_pose is "
                                                         "connected."}),
                "reference_pose": ("POSE_KEYPOINT", {"tooltip": "Reference pose (its first frame)."}),
                "dwpose_model": ("DWPOSE_MODEL", {"tooltip": "Models for the reference picture (from DWPose "
                                                             "Model Loader); default: the standard models."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def retarget(self, pose_keypoint, reference_people="auto", feet_on_ground=True, length_quantile=0.9,
                 max_ratio_spread=2.5, reference_image=None, reference_pose=None, dwpose_model=None,
                 unique_id=None):
        from dwpose_core.animate.retarget import RetargetError, retarget

        name = "DWPose Retarget"
        frames = read_frames(pose_keypoint, name)
        if reference_pose is not None:
            reference = read_frames(reference_pose, name)[0]
        elif reference_image is not None:
            reference = _estimate_reference(reference_image, dwpose_model, unique_id, name)
        else:
            raise ValueError(f"{name}: connect a reference_image or a reference_pose.")
        comfy_bridge.check_interrupt()
        try:
            out = retarget(frames, reference, reference_people=reference_people, ground=bool(feet_on_ground),
                           quantile=float(length_quantile), max_ratio_spread=float(max_ratio_spread))
        except RetargetError as exc:
            raise ValueError(f"{name}: {exc}") from exc
        return (export(out, pose_keypoint),)


def _estimate_reference(image, dwpose_model, unique_id, name):
    """The reference picture (first image of the batch) through the core's job, on the node's models."""
    from dwpose_core.annotate import AnnotateOptions

    from . import choices
    from .estimator import DWPoseModel, _setup, run_annotator

    frame = image_batch_to_frames(image, name)[0]
    if dwpose_model is None:
        dwpose_model = DWPoseModel(_setup(choices.DEFAULT_DETECTOR, choices.DEFAULT_POSE), f"retarget:{unique_id}")
    pose = run_annotator(dwpose_model, AnnotateOptions(draw=False), [frame], node_id=unique_id).poses[0]
    if not pose.people:
        raise ValueError(f"{name}: DWPose found no person in the reference image.")
    return pose


class DWPoseFaceCrops:
    DESCRIPTION = ("Square face crops per frame for Wan 2.2 Animate (its face-box rule: landmark box, area x1.3, "
                   "3/4 of the extra height above), smoothed over time so they do not jitter; frames without a "
                   "face reuse the nearest box. Also outputs the boxes.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE", "BOUNDING_BOX")
    RETURN_NAMES = ("face_images", "face_boxes")
    OUTPUT_TOOLTIPS = (
        "size x size crops: all frames of the first chosen track, then all frames of the next one.",
        "Per frame, one {x, y, width, height} box per chosen track (same order), in image pixels.",
    )
    FUNCTION = "crop"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The video frames the poses were found in (one per pose frame)."}),
                "pose_keypoint": POSE_INPUT,
                "size": ("INT", {"default": 512, "min": 16, "max": 4096, "step": 8,
                                 "tooltip": "Side of the square crops in pixels (Wan 2.2 Animate: 512)."}),
                "scale": ("FLOAT", {"default": 1.3, "min": 1.0, "max": 4.0, "step": 0.05,
                                    "tooltip": "Area of the box over the landmarks' box (Wan: 1.3)."}),
                "smoothing": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 4.0, "step": 0.05,
                                        "tooltip": "Temporal smoothing of the boxes (0 = off, 1 = typical)."}),
                "track_ids": ("STRING", {"default": "",
                                         "tooltip": "Which tracks, e.g. '0, 2'; empty = every track (one person "
                                                    "per frame without tracking counts as one track)."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def crop(self, image, pose_keypoint, size=512, scale=1.3, smoothing=1.0, track_ids="", unique_id=None):
        import numpy as np

        from dwpose_core.formats.boxes import to_bounding_box
        from dwpose_core.animate.face_crops import face_crops

        name = "DWPose Face Crops"
        frames = read_frames(pose_keypoint, name)
        images = image_batch_to_frames(image, name)
        if len(images) != len(frames):
            raise ValueError(f"{name}: {len(images)} images but {len(frames)} pose frames; connect the frames "
                             f"the poses were found in.")
        comfy_bridge.check_interrupt()
        ids = parse_track_ids(track_ids, name)
        tracks = face_crops(images, frames, size=int(size), people=ids or None, scale=float(scale),
                            smoothing=float(smoothing)).tracks
        crops = np.concatenate([t.crops for t in tracks])
        per_frame = [np.stack([t.boxes[i] for t in tracks]) for i in range(len(frames))]
        return (frames_to_image_batch(crops), to_bounding_box(per_frame))
