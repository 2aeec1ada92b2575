"""Nodes that take POSE_KEYPOINT: render it, pick people from it, smooth it over time."""
from __future__ import annotations

from . import choices, clip_state, comfy_bridge
from .convert import frames_to_image_batch
from .summary import summarise, ui_output

from dwpose_core.selection.people import CHOOSE_MODES
from dwpose_core.render.profiles import DEFAULT_PROFILE, PROFILES

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
    from dwpose_core.formats.pose_json import FormatError, from_pose_keypoint

    if pose_keypoint is None:
        raise ValueError(f"{node_name}: no POSE_KEYPOINT is connected.")
    try:
        frames = from_pose_keypoint(pose_keypoint)
    except FormatError as exc:
        raise ValueError(f"{node_name}: the POSE_KEYPOINT input is not valid pose JSON: {exc}") from exc
    if not frames:
        raise ValueError(f"{node_name}: the POSE_KEYPOINT input has no frames.")
    return frames


def export(frames, pose_keypoint=None, **parts) -> list:
    """FramePose list -> POSE_KEYPOINT. Parts switched off upstream travel in the frames
    (``FramePose.parts`` / ``Person.parts``, read from the JSON's ``parts`` field), so they stay
    off; ``parts`` (body=False ...) switch more off. ``pose_keypoint`` is accepted for callers
    of the old signature and not read."""
    from dwpose_core.formats.pose_json import to_pose_keypoint

    return to_pose_keypoint(frames, **{part: bool(parts.get(part, True)) for part in ("body", "hands", "face", "feet")})


def _threshold(score_threshold: float, profile: str) -> float:
    """The widget's threshold, never below the profile's own (wan_animate 0.5, steadydancer 0.35)."""
    from dwpose_core.render.profiles import get_profile

    return max(float(score_threshold), get_profile(profile).threshold)


class DWPoseRender:
    DESCRIPTION = "Draws POSE_KEYPOINT as OpenPose-style pose images (one per frame) for ControlNet."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("Pose images, one per frame, all at the first frame's output size.",)
    FUNCTION = "render"
    # The preview is UI output: resent when ComfyUI serves this node from its cache.
    HAS_INTERMEDIATE_OUTPUT = True

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
                                                         "common tools' rule). A profile with a higher threshold "
                                                         "of its own uses that one at least."}),
            },
            "optional": {
                # Appended after every earlier widget (saved workflows store widget values by position).
                "profile": (list(PROFILES), {
                    "default": DEFAULT_PROFILE,
                    "tooltip": "How the model you feed was trained to see poses: controlnet (SD/SDXL ControlNets, "
                               "VACE, Wan-Fun, Z-Image/Qwen-Image Fun), vace (Wan VACE pose task), wan_animate "
                               "(Wan 2.2 Animate: toes, no face), unianimate, steadydancer, mimicmotion, moore "
                               "(Moore-AnimateAnyone). Part toggles still switch parts off; feet off = the "
                               "profile's default (toe points for wan_animate and unianimate)."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def render(self, pose_keypoint, resolution=choices.DEFAULT_RESOLUTION, body=True, hands=True, face=True,
               feet=False, scale_stick_for_xinsir_cn=False, score_threshold=0.3, profile=DEFAULT_PROFILE,
               unique_id=None):
        from dwpose_core.render.draw import draw_pose, output_size

        frames = read_frames(pose_keypoint, "DWPose Render")
        # An IMAGE batch has one size: every frame is drawn at the first frame's output size.
        size = output_size(frames[0].width, frames[0].height, int(resolution) or None)
        # feet off = the profile's default (controlnet: none; wan_animate / unianimate: their toe points).
        parts = dict(body=bool(body), hands=bool(hands), face=bool(face), feet=True if feet else None)
        options = dict(xinsir=bool(scale_stick_for_xinsir_cn), threshold=_threshold(score_threshold, profile),
                       profile=profile, **parts)
        progress = comfy_bridge.Progress(len(frames), node_id=unique_id)
        pictures = []
        for i, frame in enumerate(frames):
            pictures.append(draw_pose(frame, size=size, **options))
            progress.callback(i + 1, len(frames))
        summary = summarise(frames, **options)
        return {"ui": ui_output(summary), "result": (frames_to_image_batch(pictures),)}


SELECT_MODES = list(CHOOSE_MODES)


def parse_indices(text: str, node_name: str) -> list[int]:
    """"0, 2" -> [0, 2]; the message says what is wrong."""
    from dwpose_core.selection.people import parse_indices as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{node_name}: {exc}.") from None


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
        from dwpose_core.selection.people import choose

        name = "DWPose Select People"
        frames = read_frames(pose_keypoint, name)
        try:
            frames = choose(frames, selection, top_k=int(top_k), indices=parse_indices(indices, name))
        except ValueError as exc:
            if selection != "by_track_id":
                raise
            raise ValueError(f"{name}: by_track_id needs poses with track ids; turn on tracking in DWPose "
                             f"Estimator or run DWPose Smooth first.") from exc
        return (export(frames, body=body, hands=hands, face=face, feet=feet),)


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
        return (export(smoothed),)
