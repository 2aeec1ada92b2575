"""Nodes that take POSE_KEYPOINT: render it, pick people from it, smooth it over time."""
from __future__ import annotations

from . import choices, clip_state, comfy_bridge
from .convert import frames_to_image_batch
from .summary import summarise, ui_output

CATEGORY = "DWPose"
POSE_INPUT = ("POSE_KEYPOINT", {"tooltip": "Poses per frame, from DWPose Estimator, DWPose Load JSON or any "
                                           "node producing OpenPose-style POSE_KEYPOINT."})


def _part_inputs(feet_default: bool = False) -> dict:
    return {
        "body": ("BOOLEAN", {"default": True, "tooltip": "Keep the body (OpenPose 18 points)."}),
        "hands": ("BOOLEAN", {"default": True, "tooltip": "Keep both hands (21 points each)."}),
        "face": ("BOOLEAN", {"default": True, "tooltip": "Keep the 68 face landmarks."}),
        "feet": ("BOOLEAN", {"default": feet_default, "tooltip": "Keep the 6 foot points (toes, heels)."}),
    }


def read_frames(pose_keypoint, node_name: str) -> list:
    """POSE_KEYPOINT -> FramePose list; a clear error for an empty or malformed value."""
    from dwpose_core.formats import FormatError, from_pose_keypoint

    if pose_keypoint is None:
        raise ValueError(f"{node_name}: no POSE_KEYPOINT is connected.")
    try:
        frames = from_pose_keypoint(pose_keypoint)
    except FormatError as exc:
        raise ValueError(f"{node_name}: the POSE_KEYPOINT input is not valid pose JSON: {exc}") from exc
    if not frames:
        raise ValueError(f"{node_name}: the POSE_KEYPOINT input has no frames.")
    return frames


_PART_KEYS = {"body": ("pose_keypoints_2d",), "face": ("face_keypoints_2d",),
              "hands": ("hand_left_keypoints_2d", "hand_right_keypoints_2d")}


def disabled_parts(pose_keypoint) -> set:
    """Parts that are null for every person of the input (disabled upstream): they stay null."""
    frames = [pose_keypoint] if isinstance(pose_keypoint, dict) else pose_keypoint
    if not isinstance(frames, (list, tuple)):
        return set()
    people = [p for f in frames if isinstance(f, dict) for p in (f.get("people") or []) if isinstance(p, dict)]
    if not people:
        return set()
    return {part for part, keys in _PART_KEYS.items()
            if all(p.get(k) is None for p in people for k in keys)}


def export(frames, pose_keypoint, **parts) -> list:
    """FramePose list -> POSE_KEYPOINT, keeping parts the input had disabled disabled."""
    from dwpose_core.formats import to_pose_keypoint

    off = disabled_parts(pose_keypoint)
    enabled = {part: bool(parts.get(part, True)) and part not in off for part in ("body", "hands", "face", "feet")}
    return to_pose_keypoint(frames, **enabled)


class DWPoseRender:
    DESCRIPTION = "Draws POSE_KEYPOINT as OpenPose-style pose images (one per frame) for ControlNet."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("Pose images, one per frame, all at the first frame's output size.",)
    FUNCTION = "render"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose_keypoint": POSE_INPUT,
                "resolution": ("INT", {"default": choices.DEFAULT_RESOLUTION, "min": 0, "max": 16384, "step": 8,
                                       "tooltip": "Short side of the images in pixels (multiple of 8); 0 = the "
                                                  "canvas size stored in the JSON."}),
                **_part_inputs(),
                "scale_stick_for_xinsir_cn": ("BOOLEAN", {
                    "default": False,
                    "tooltip": "Thicker limbs on large images, as xinsir's SDXL openpose ControlNet expects."}),
                "score_threshold": ("FLOAT", {"default": 0.3, "min": 0.0, "max": 1.0, "step": 0.01,
                                              "tooltip": "Points with a lower score are not drawn (0.3 = the "
                                                         "common tools' rule)."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def render(self, pose_keypoint, resolution=choices.DEFAULT_RESOLUTION, body=True, hands=True, face=True,
               feet=False, scale_stick_for_xinsir_cn=False, score_threshold=0.3, unique_id=None):
        from dwpose_core.render import draw_pose, output_size

        frames = read_frames(pose_keypoint, "DWPose Render")
        # An IMAGE batch has one size: every frame is drawn at the first frame's output size.
        size = output_size(frames[0].width, frames[0].height, int(resolution) or None)
        parts = dict(body=bool(body), hands=bool(hands), face=bool(face), feet=bool(feet))
        progress = comfy_bridge.Progress(len(frames), node_id=unique_id)
        pictures = []
        for i, frame in enumerate(frames):
            pictures.append(draw_pose(frame, size=size, xinsir=bool(scale_stick_for_xinsir_cn),
                                      threshold=float(score_threshold), **parts))
            progress.callback(i + 1, len(frames))
        summary = summarise(frames, threshold=float(score_threshold), **parts)
        return {"ui": ui_output(summary), "result": (frames_to_image_batch(pictures),)}


SELECT_MODES = ["all", "largest", "most_confident", "top_k", "by_index", "by_track_id"]


def parse_indices(text: str, node_name: str) -> list[int]:
    """"0, 2" -> [0, 2]; the message says what is wrong."""
    values = []
    for token in str(text).replace(";", ",").split(","):
        token = token.strip()
        if not token:
            continue
        try:
            values.append(int(token))
        except ValueError:
            raise ValueError(f"{node_name}: {token!r} in indices is not a whole number; write e.g. '0, 2'.") from None
    return values


class DWPoseSelectPeople:
    DESCRIPTION = ("Keeps some people of every frame (largest, most confident, top-k, by position or by track "
                   "id) and some body parts (body, hands, face, feet).")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT",)
    RETURN_NAMES = ("pose_keypoint",)
    OUTPUT_TOOLTIPS = ("The chosen people with the chosen parts.",)
    FUNCTION = "select"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose_keypoint": POSE_INPUT,
                "selection": (SELECT_MODES, {
                    "default": "largest",
                    "tooltip": "all; largest box; most confident; the top_k largest; by_index: positions in each "
                               "frame's people list; by_track_id: identities from tracking. When the poses carry "
                               "track ids, largest / most_confident / top_k pick the same person(s) in every frame."}),
                "top_k": ("INT", {"default": 1, "min": 1, "max": 100, "tooltip": "How many people top_k keeps."}),
                "indices": ("STRING", {"default": "0", "tooltip": "For by_index / by_track_id: comma-separated "
                                                                  "numbers, e.g. '0, 2'."}),
                **_part_inputs(feet_default=True),
            },
        }

    def select(self, pose_keypoint, selection="largest", top_k=1, indices="0", body=True, hands=True, face=True,
               feet=True):
        from dwpose_core.selection import select_people

        name = "DWPose Select People"
        frames = read_frames(pose_keypoint, name)
        wanted = parse_indices(indices, name)
        tracked = all(p.track_id is not None for f in frames for p in f.people)
        if selection == "by_index":
            for f in frames:
                f.people = [f.people[i] for i in wanted if -len(f.people) <= i < len(f.people)]
        elif selection == "by_track_id":
            if not tracked:
                raise ValueError(f"{name}: by_track_id needs poses with track ids; turn on tracking in DWPose "
                                 f"Estimator or run DWPose Smooth first.")
            for f in frames:
                f.people = [p for p in f.people if p.track_id in wanted]
        elif tracked and selection != "all":
            from dwpose_core.temporal import select_tracks

            frames = select_tracks(frames, mode=selection, top_k=int(top_k))
        else:
            for f in frames:
                f.people = select_people(f.people, selection, top_k=int(top_k))
        return (export(frames, pose_keypoint, body=body, hands=hands, face=face, feet=feet),)


class DWPoseSmooth:
    DESCRIPTION = ("Removes jitter from a pose sequence (video) without lag: each person's keypoints are smoothed "
                   "over the whole clip, weighted by confidence, never across gaps; fast motion is kept. "
                   "People get track ids first if they have none.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT",)
    RETURN_NAMES = ("pose_keypoint",)
    OUTPUT_TOOLTIPS = ("The smoothed poses, with a track_id per person.",)
    FUNCTION = "smooth"

    @classmethod
    def IS_CHANGED(cls, continue_clip=None, **_inputs):
        return clip_state.is_changed(continue_clip)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose_keypoint": POSE_INPUT,
                "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 4.0, "step": 0.05,
                                       "tooltip": "0 = unchanged, 1 = typical, higher = smoother (wider window)."}),
            },
            "optional": {
                # Appended; keep after every earlier widget (saved workflows store values by position).
                "continue_clip": ("BOOLEAN", {"default": False, "tooltip": clip_state.TIP_SMOOTH}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def smooth(self, pose_keypoint, strength=1.0, continue_clip=False, unique_id=None):
        from dwpose_core.temporal import SmootherState, smooth

        frames = read_frames(pose_keypoint, "DWPose Smooth")
        # One clip: same canvas size; a new size starts afresh.
        slot, clip_key = f"smooth:{unique_id}", (frames[0].width, frames[0].height)
        state = clip_state.STATES.start(slot, clip_key, SmootherState, bool(continue_clip))
        smoothed = smooth(frames, strength=float(strength), state=state)
        clip_state.STATES.finish(slot, clip_key, state)
        return (export(smoothed, pose_keypoint),)
