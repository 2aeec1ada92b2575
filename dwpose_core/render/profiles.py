"""Render profiles as data: how each pose-conditioned model's official preprocessing draws.

One :class:`Profile` per model family, chosen by name (:data:`PROFILES`, default
``controlnet``). Facts from shared PROFILES.md; each table says what the renderer needs:
the parts drawn, toe points, limb list and colours, width and radius rules as functions of
the output size, the score threshold, the colour order (RB-swap) and the draw-then-resize
canvas. The renderer (:mod:`dwpose_core.render.draw`) holds no per-model logic beyond reading
these tables; part toggles only ever switch parts off on top of a profile.

Width rules: ``widths(dw, dh)`` gives the widths on the drawing canvas ``draw_size(W, H)`` for
an output of W x H; when the two differ the picture is drawn there and resized to W x H
(area interpolation when shrinking, bilinear when enlarging), so a width w on the drawing
canvas becomes ``w * W_out / W_draw`` in the output.

Where PROFILES.md leaves a detail open, the choice is marked *inferred*.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

from .. import skeleton as sk

__all__ = ["LineWidths", "Profile", "PROFILES", "DEFAULT_PROFILE", "get_profile", "controlnet_widths"]


class LineWidths(NamedTuple):
    stick: int  # half-width of a limb ellipse
    joint_radius: int
    hand_line: int  # thickness of a hand edge
    hand_point_radius: int
    face_radius: int


def _round(v: float) -> int:
    return int(math.floor(v + 0.5))


REFERENCE_WIDTHS = LineWidths(sk.STICK_WIDTH, sk.JOINT_RADIUS, sk.HAND_LINE_WIDTH, sk.HAND_POINT_RADIUS,
                              sk.FACE_POINT_RADIUS)  # w4 r4, hand line 2, hand r4, face r3


def controlnet_widths(width: int, height: int, xinsir: bool = False) -> LineWidths:
    """Today's rule: with s = short side / 512, each width is max(1, round(reference x s));
    ``xinsir``: stick = 4 x (1 if max side < 500 else min(2 + max side // 1000, 7)), the rest at
    the reference widths."""
    if xinsir:
        longer = max(width, height)
        factor = 1 if longer < 500 else min(2 + longer // 1000, 7)
        return REFERENCE_WIDTHS._replace(stick=sk.STICK_WIDTH * factor)
    s = min(width, height) / sk.REFERENCE_SHORT_SIDE
    return LineWidths(*(max(1, _round(v * s)) for v in REFERENCE_WIDTHS))


def _fixed(width: int, height: int, xinsir: bool = False) -> LineWidths:
    return REFERENCE_WIDTHS


def _wan_widths(width: int, height: int, xinsir: bool = False) -> LineWidths:
    w = max(int(min(width, height) / 200) - 1, 1)
    hand = max(w // 2, 1)
    return LineWidths(w, w, hand, hand, sk.FACE_POINT_RADIUS)


def _same(width: int, height: int) -> tuple[int, int]:
    return width, height


def _short_side(n: int) -> Callable[[int, int], tuple[int, int]]:
    def size(width: int, height: int) -> tuple[int, int]:
        k = n / min(width, height)
        return max(1, _round(width * k)), max(1, _round(height * k))
    size.__doc__ = f"drawn with short side {n}, then resized"
    return size


def _times(k: int) -> Callable[[int, int], tuple[int, int]]:
    def size(width: int, height: int) -> tuple[int, int]:
        return width * k, height * k
    size.__doc__ = f"drawn at {k}x, then resized"
    return size


@dataclass(frozen=True)
class Profile:
    name: str
    models: str
    parts: frozenset  # parts drawn (body, hands, face; feet per `feet`)
    feet: Optional[str]  # None: never; "wholebody": our 6-point feet; "toes": one toe point per foot
    feet_default: bool  # feet drawn unless switched off (feet=None means this)
    widths: Callable[..., LineWidths]  # (draw_w, draw_h, xinsir) -> widths on the drawing canvas
    draw_size: Callable[[int, int], tuple[int, int]]  # output (W, H) -> drawing canvas (W, H)
    threshold: float
    rb_swap: bool  # red and blue exchanged in the final picture
    limbs: tuple = sk.OPENPOSE_LIMBS  # OpenPose-18 index pairs
    limb_colors: tuple = sk.OPENPOSE_COLORS  # RGB before the 0.6 limb shade
    joint_colors: tuple = sk.OPENPOSE_COLORS
    toe_limb_colors: tuple = ()  # (left ankle -> left toe, right ankle -> right toe)
    toe_joint_colors: tuple = ()  # (left toe, right toe)
    confidence_colors: bool = False  # body colours x the points' confidence (MimicMotion)
    max_people: Optional[int] = None  # keep the best-scoring people only (mean body score)
    canvas: str = "output size"  # the model's own canvas (documentation; the caller picks the size)


_BHF = frozenset({"body", "hands", "face"})

_TABLE = (
    Profile("controlnet", "SD1.5 / xinsir SDXL openpose ControlNets, VACE, Wan-Fun Control, Z-Image / Qwen-Image "
            "Fun ControlNet", _BHF, "wholebody", False, controlnet_widths, _same, 0.3, False),
    Profile("vace", "Wan VACE pose task (PoseBodyFaceVideoAnnotator)", frozenset({"body", "face"}), None, False,
            _fixed, _short_side(1024), 0.3, True, canvas="frame size"),
    Profile("wan_animate", "Wan 2.2 Animate", frozenset({"body", "hands"}), "toes", True, _wan_widths, _same, 0.5,
            False, toe_limb_colors=((255, 0, 85), (200, 200, 0)), toe_joint_colors=((200, 200, 0), (100, 100, 0)),
            canvas="reference size, about 1280x720 in area, sides multiples of 16, letterboxed"),
    # Toe joints in the toe limb colours: *inferred* (PROFILES.md gives only the limb colours).
    Profile("unianimate", "UniAnimate-DiT, Animate-X", frozenset({"body", "hands"}), "toes", True, _fixed, _same,
            0.3, True, toe_limb_colors=((255, 0, 85), (170, 255, 255)),
            toe_joint_colors=((255, 0, 85), (170, 255, 255)), canvas="UniAnimate 512x768; Animate-X native size"),
    Profile("steadydancer", "SteadyDancer", frozenset({"body", "hands"}), None, False, _fixed, _times(2), 0.35, True,
            canvas="reference size, about 1024x576 in area, multiples of 16"),
    # Limb colour x the product of its two end confidences: *inferred* (joints: x their confidence).
    Profile("mimicmotion", "MimicMotion (StableAnimator: same drawing in RGB, inferred)", _BHF, None, False, _fixed,
            _short_side(2160), 0.3, True, confidence_colors=True, canvas="576x1024, centre crop"),
    Profile("moore", "Moore-AnimateAnyone (best-scoring person only)", _BHF, None, False, _fixed, _short_side(512),
            0.3, False, max_people=1, canvas="detected at 512"),
)

PROFILE_TABLE = {p.name: p for p in _TABLE}
PROFILES = tuple(PROFILE_TABLE)  # names, for widget and CLI choices
DEFAULT_PROFILE = "controlnet"


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a ValueError lists the names."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILE_TABLE[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown render profile {name!r}; use one of {', '.join(PROFILES)}") from None
