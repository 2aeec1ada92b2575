"""Nodes that take POSE_KEYPOINT: render it, pick people from it, smooth it over time."""
from __future__ import annotations

from . import choices, clip_state, comfy_bridge
from .convert import frames_to_image_batch
from .summary import summarise, ui_output
from .v3 import CATEGORY, SEARCH_ALIASES, PoseKeypoint, io, node_id, output, pose_input

from dwpose_core.selection.people import CHOOSE_MODES
from dwpose_core.render.profiles import DEFAULT_PROFILE, PROFILES



def _part_inputs(feet_default: bool = False) -> list:
    return [
        io.Boolean.Input("body", default=True, tooltip="Keep the body (OpenPose 18 points)."),
        io.Boolean.Input("hands", default=True, tooltip="Keep both hands (21 points each)."),
        io.Boolean.Input("face", default=True, tooltip="Keep the 68 face landmarks."),
        io.Boolean.Input("feet", default=feet_default, tooltip="Keep the 6 foot points (toes, heels)."),
    ]


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


class DWPoseRender(io.ComfyNode):
    """Draws POSE_KEYPOINT as pose images."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseRender",
            display_name="DWPose Render",
            category=CATEGORY,
            description="Draws POSE_KEYPOINT as OpenPose-style pose images (one per frame) for ControlNet.",
            search_aliases=SEARCH_ALIASES,
            # The preview is UI output: resent when ComfyUI serves this node from its cache.
            has_intermediate_output=True,
            inputs=[
                pose_input(),
                io.Int.Input("resolution", default=choices.DEFAULT_RESOLUTION, min=0, max=16384, step=8,
                             tooltip="Short side of the images in pixels (multiple of 8); 0 = the "
                                     "canvas size stored in the JSON."),
                *_part_inputs(),
                io.Boolean.Input("scale_stick_for_xinsir_cn", default=False,
                                 tooltip="Thicker limbs on large images, as xinsir's SDXL openpose ControlNet expects."),
                io.Float.Input("score_threshold", default=0.3, min=0.0, max=1.0, step=0.01,
                               tooltip="Points with a lower score are not drawn (0.3 = the "
                                       "common tools' rule). A profile with a higher threshold "
                                       "of its own uses that one at least."),
                # Appended after every earlier widget (saved workflows store widget values by position).
                io.Combo.Input("profile", options=list(PROFILES), default=DEFAULT_PROFILE, optional=True,
                               tooltip="How the model you feed was trained to see poses: controlnet (SD/SDXL ControlNets, "
                                       "VACE, Wan-Fun, Z-Image/Qwen-Image Fun), vace (Wan VACE pose task), wan_animate "
                                       "(Wan 2.2 Animate: toes, no face), unianimate, steadydancer, mimicmotion, moore "
                                       "(Moore-AnimateAnyone). Part toggles still switch parts off; feet off = the "
                                       "profile's default (toe points for wan_animate and unianimate)."),
            ],
            outputs=[io.Image.Output("image", display_name="image",
                                     tooltip="Pose images, one per frame, all at the first frame's output size.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, pose_keypoint, resolution=choices.DEFAULT_RESOLUTION, body=True, hands=True, face=True,
                feet=False, scale_stick_for_xinsir_cn=False, score_threshold=0.3, profile=DEFAULT_PROFILE):
        from dwpose_core.render.draw import draw_pose, output_size

        frames = read_frames(pose_keypoint, "DWPose Render")
        # An IMAGE batch has one size: every frame is drawn at the first frame's output size.
        size = output_size(frames[0].width, frames[0].height, int(resolution) or None)
        # feet off = the profile's default (controlnet: none; wan_animate / unianimate: their toe points).
        parts = dict(body=bool(body), hands=bool(hands), face=bool(face), feet=True if feet else None)
        options = dict(xinsir=bool(scale_stick_for_xinsir_cn), threshold=_threshold(score_threshold, profile),
                       profile=profile, **parts)
        progress = comfy_bridge.Progress(len(frames), node_id=node_id(cls))
        pictures = []
        for i, frame in enumerate(frames):
            pictures.append(draw_pose(frame, size=size, **options))
            progress.callback(i + 1, len(frames))
        summary = summarise(frames, **options)
        return output(frames_to_image_batch(pictures), ui_dict=ui_output(summary))


SELECT_MODES = list(CHOOSE_MODES)


def parse_indices(text: str, node_name: str) -> list[int]:
    """"0, 2" -> [0, 2]; the message says what is wrong."""
    from dwpose_core.selection.people import parse_indices as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{node_name}: {exc}.") from None


class DWPoseSelectPeople(io.ComfyNode):
    """Keeps some people and some parts."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseSelectPeople",
            display_name="DWPose Select People",
            category=CATEGORY,
            description=("Keeps some people of every frame (largest, most confident, top-k, by position or by track "
                         "id) and some body parts (body, hands, face, feet)."),
            search_aliases=SEARCH_ALIASES,
            inputs=[
                pose_input(),
                io.Combo.Input("selection", options=SELECT_MODES, default="largest",
                               tooltip="all; largest box; most confident; the top_k largest; by_index: positions in each "
                                       "frame's people list; by_track_id: identities from tracking. When the poses carry "
                                       "track ids, largest / most_confident / top_k pick the same person(s) in every frame."),
                io.Int.Input("top_k", default=1, min=1, max=100, tooltip="How many people top_k keeps."),
                io.String.Input("indices", default="0", tooltip="For by_index / by_track_id: comma-separated "
                                                                "numbers, e.g. '0, 2'."),
                *_part_inputs(feet_default=True),
            ],
            outputs=[PoseKeypoint.Output("pose_keypoint", display_name="pose_keypoint",
                                         tooltip="The chosen people with the chosen parts.")],
        )

    @classmethod
    def validate_inputs(cls, indices=None):
        if isinstance(indices, str):
            try:
                parse_indices(indices, "DWPose Select People")
            except ValueError as exc:
                return str(exc)
        return True

    @classmethod
    def execute(cls, pose_keypoint, selection="largest", top_k=1, indices="0", body=True, hands=True, face=True,
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
        return io.NodeOutput(export(frames, body=body, hands=hands, face=face, feet=feet))


class DWPoseSmooth(io.ComfyNode):
    """Temporal smoothing of a pose sequence."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DWPoseSmooth",
            display_name="DWPose Smooth",
            category=CATEGORY,
            description=("Removes jitter from a pose sequence (video) without lag: each person's keypoints are smoothed "
                         "over the whole clip, weighted by confidence, never across gaps; fast motion is kept. "
                         "People get track ids first if they have none."),
            search_aliases=SEARCH_ALIASES,
            inputs=[
                pose_input(),
                io.Float.Input("strength", default=1.0, min=0.0, max=4.0, step=0.05,
                               tooltip="0 = unchanged, 1 = typical, higher = smoother (wider window)."),
                # Appended; keep after every earlier widget (saved workflows store values by position).
                io.Boolean.Input("continue_clip", default=False, optional=True, tooltip=clip_state.TIP_SMOOTH),
            ],
            outputs=[PoseKeypoint.Output("pose_keypoint", display_name="pose_keypoint",
                                         tooltip="The smoothed poses, with a track_id per person.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def fingerprint_inputs(cls, continue_clip=None, **_inputs):
        return clip_state.is_changed(continue_clip)

    @classmethod
    def execute(cls, pose_keypoint, strength=1.0, continue_clip=False):
        from dwpose_core.temporal import SmootherState, smooth

        frames = read_frames(pose_keypoint, "DWPose Smooth")
        # One clip (per node, by its hidden unique_id): same canvas size; a new size starts afresh.
        slot, clip_key = f"smooth:{node_id(cls)}", (frames[0].width, frames[0].height)
        state = clip_state.STATES.start(slot, clip_key, SmootherState, bool(continue_clip))
        smoothed = smooth(frames, strength=float(strength), state=state)
        clip_state.STATES.finish(slot, clip_key, state)
        return io.NodeOutput(export(smoothed))
