"""Nodes for video-generation models: retarget a clip to a reference character; face crops.

Thin adapters over dwpose_core.animate.retarget and dwpose_core.animate.face_crops. Widgets are only ever
appended (saved workflows store widget values by position).
"""
from __future__ import annotations

from . import comfy_bridge
from .convert import frames_to_image_batch, image_batch_to_frames
from .pose_nodes import export, read_frames
from .v3 import CATEGORY, SEARCH_ALIASES, DWPoseModelType, PoseKeypoint, io, node_id, pose_input


def parse_track_ids(text: str, node_name: str) -> list[int]:
    """"0, 2" -> [0, 2]; an empty text -> [] (every track)."""
    from dwpose_core.selection.people import parse_indices

    try:
        return parse_indices(text, "track_ids")
    except ValueError as exc:
        raise ValueError(f"{node_name}: {exc}, or leave it empty for every track.") from None


class DWPoseRetarget(io.ComfyNode):
    """A pose clip re-proportioned to a reference character."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseRetarget",
            display_name="DWPose Retarget",
            category=CATEGORY,
            description=("Re-proportions a pose clip to a reference character: every frame keeps the clip's joint "
                         "angles and motion and takes the reference's bone lengths (measured robustly over the whole "
                         "clip, left/right consistent, clamped), hands and face scaled to the reference, feet on the "
                         "reference's ground line; the output is in the reference's canvas. The reference is a pose "
                         "(its first frame) or a picture, run through DWPose."),
            search_aliases=SEARCH_ALIASES + ["retarget", "wan animate", "steadydancer"],
            inputs=[
                pose_input(),
                io.Combo.Input("reference_people", options=["auto", "same"], default="auto",
                               tooltip="auto: each track gets its own reference person (paired left to right) when the "
                                       "reference has enough people, else all take the largest. same: every track takes "
                                       "the largest reference person."),
                io.Boolean.Input("feet_on_ground", default=True,
                                 tooltip="When the reference shows its whole body, keep the feet on its ground line."),
                io.Float.Input("length_quantile", default=0.9, min=0.5, max=1.0, step=0.01,
                               tooltip="Which quantile of each bone's length over the clip is its true length "
                                       "(foreshortening only shortens bones; 0.9 ignores a few outliers)."),
                io.Float.Input("max_ratio_spread", default=2.5, min=1.0, max=10.0, step=0.1,
                               tooltip="A limb's ratio stays within this factor of the body's overall scale ratio."),
                io.Image.Input("reference_image", optional=True,
                               tooltip="Reference picture (its first image); DWPose finds the character in it. "
                                       "Ignored when reference_pose is connected."),
                pose_input("reference_pose", tooltip="Reference pose (its first frame).", optional=True),
                DWPoseModelType.Input("dwpose_model", optional=True,
                                      tooltip="Models for the reference picture (from DWPose Model Loader); "
                                              "default: the standard models."),
            ],
            outputs=[PoseKeypoint.Output("pose_keypoint", display_name="pose_keypoint",
                                         tooltip="The retargeted poses, in the reference's canvas, same frames, "
                                                 "people and track ids.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, pose_keypoint, reference_people="auto", feet_on_ground=True, length_quantile=0.9,
                max_ratio_spread=2.5, reference_image=None, reference_pose=None, dwpose_model=None):
        from dwpose_core.animate.retarget import RetargetError, retarget

        name = "DWPose Retarget"
        frames = read_frames(pose_keypoint, name)
        if reference_pose is not None:
            reference = read_frames(reference_pose, name)[0]
        elif reference_image is not None:
            reference = _estimate_reference(reference_image, dwpose_model, node_id(cls), name)
        else:
            raise ValueError(f"{name}: connect a reference_image or a reference_pose.")
        comfy_bridge.check_interrupt()
        try:
            out = retarget(frames, reference, reference_people=reference_people, ground=bool(feet_on_ground),
                           quantile=float(length_quantile), max_ratio_spread=float(max_ratio_spread))
        except RetargetError as exc:
            raise ValueError(f"{name}: {exc}") from exc
        return io.NodeOutput(export(out, pose_keypoint))


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


class DWPoseFaceCrops(io.ComfyNode):
    """Square, temporally smoothed face crops (Wan 2.2 Animate's face-box rule)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseFaceCrops",
            display_name="DWPose Face Crops",
            category=CATEGORY,
            description=("Square face crops per frame for Wan 2.2 Animate (its face-box rule: landmark box, area x1.3, "
                         "3/4 of the extra height above), smoothed over time so they do not jitter; frames without a "
                         "face reuse the nearest box. Also outputs the boxes."),
            search_aliases=SEARCH_ALIASES + ["face crop", "wan animate"],
            inputs=[
                io.Image.Input("image", tooltip="The video frames the poses were found in (one per pose frame)."),
                pose_input(),
                io.Int.Input("size", default=512, min=16, max=4096, step=8,
                             tooltip="Side of the square crops in pixels (Wan 2.2 Animate: 512)."),
                io.Float.Input("scale", default=1.3, min=1.0, max=4.0, step=0.05,
                               tooltip="Area of the box over the landmarks' box (Wan: 1.3)."),
                io.Float.Input("smoothing", default=1.0, min=0.0, max=4.0, step=0.05,
                               tooltip="Temporal smoothing of the boxes (0 = off, 1 = typical)."),
                io.String.Input("track_ids", default="",
                                tooltip="Which tracks, e.g. '0, 2'; empty = every track (one person "
                                        "per frame without tracking counts as one track)."),
            ],
            outputs=[
                io.Image.Output("face_images", display_name="face_images",
                                tooltip="size x size crops: all frames of the first chosen track, then all frames "
                                        "of the next one."),
                io.BoundingBox.Output("face_boxes", display_name="face_boxes",
                                      tooltip="Per frame, one {x, y, width, height} box per chosen track (same "
                                              "order), in image pixels."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, track_ids=None):
        if isinstance(track_ids, str):
            try:
                parse_track_ids(track_ids, "DWPose Face Crops")
            except ValueError as exc:
                return str(exc)
        return True

    @classmethod
    def execute(cls, image, pose_keypoint, size=512, scale=1.3, smoothing=1.0, track_ids=""):
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
        return io.NodeOutput(frames_to_image_batch(crops), to_bounding_box(per_frame))
