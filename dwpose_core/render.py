"""Draw poses on a black canvas with the OpenPose conventions ControlNet was trained on.

Conventions (all tables in :mod:`dwpose_core.skeleton`):

- body limbs: filled ellipses joint to joint (half-width = stick width) in 0.6 x the limb's
  colour; joints: filled circles in the full colour; a joint is drawn when its score >=
  ``threshold``, the neck (shoulder midpoint) when both shoulders are;
- feet (off by default): ankle -> big toe / small toe / heel drawn like limbs, points like
  joints, in skeleton's foot colours (left deep blue, right cyan-green);
- hands: edge i as a line in HSV(i/20, 1, 1), points as pure blue circles;
- face: the 68 landmarks as white circles (the DWPose annotator draws no pupils).

Draw order, per person: body limbs, feet, body joints, hands, face. Feet come before the
body joints so that an ankle joint stays a full-colour circle on top of its foot.

Everything is drawn directly at the output size (never drawn small and upscaled) with
antialiasing off, as ControlNet's training images were: the image holds only the palette's
colours. Coordinates map from the canvas (original frame, pixel centres at integers) to the
output by ``x_out = (x + 0.5) * W_out / W_canvas - 0.5`` and are rounded to whole pixels.

Line-width rule (:func:`line_widths`): with s = short side of the output / 512, every width
is ``max(1, round(reference x s))``: stick 4, joint radius 4, hand line 2, hand point radius
4, face point radius 3 — exactly the reference widths at 512. ``xinsir=True`` uses the xinsir
SDXL rule instead: stick = 4 x (1 if the longer side < 500 else min(2 + longer // 1000, 7)),
everything else at the reference widths.

Public API: :func:`output_size`, :func:`line_widths`, :func:`draw_pose`, :func:`draw_poses`.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import skeleton as sk
from .formats import from_pose_keypoint, openpose18
from .types import FramePose, Person

__all__ = ["LineWidths", "output_size", "line_widths", "draw_pose", "draw_poses"]

# cv2 draws with int32 coordinates; keep far-away points well inside that range.
_COORD_LIMIT = 1 << 24


class LineWidths(NamedTuple):
    stick: int  # half-width of a limb ellipse
    joint_radius: int
    hand_line: int  # thickness of a hand edge
    hand_point_radius: int
    face_radius: int


def _round(v: float) -> int:
    return int(math.floor(v + 0.5))


def output_size(width: int, height: int, resolution: Optional[int] = None) -> tuple[int, int]:
    """Pose image size ``(W, H)`` for a ``width`` x ``height`` canvas.

    ``resolution`` is the short side: both sides are scaled by ``resolution / short side``
    and rounded to a multiple of 8 (at least 8). ``None`` keeps the canvas size unchanged.
    """
    width, height = _positive(width, "width"), _positive(height, "height")
    if resolution is None:
        return width, height
    resolution = _positive(resolution, "resolution")
    k = resolution / min(width, height)
    return max(8, _round(width * k / 8) * 8), max(8, _round(height * k / 8) * 8)


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or not math.isfinite(value) or value != int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number of pixels; got {value!r}")
    return int(value)


def line_widths(width: int, height: int, xinsir: bool = False) -> LineWidths:
    """Widths for an output image of ``width`` x ``height`` (see the module docstring)."""
    if xinsir:
        longer = max(width, height)
        factor = 1 if longer < 500 else min(2 + longer // 1000, 7)
        return LineWidths(sk.STICK_WIDTH * factor, sk.JOINT_RADIUS, sk.HAND_LINE_WIDTH,
                          sk.HAND_POINT_RADIUS, sk.FACE_POINT_RADIUS)
    s = min(width, height) / sk.REFERENCE_SHORT_SIDE

    def scaled(reference: int) -> int:
        return max(1, _round(reference * s))

    return LineWidths(scaled(sk.STICK_WIDTH), scaled(sk.JOINT_RADIUS), scaled(sk.HAND_LINE_WIDTH),
                      scaled(sk.HAND_POINT_RADIUS), scaled(sk.FACE_POINT_RADIUS))


def _shade(color: Sequence[int]) -> tuple[int, int, int]:
    return tuple(_round(c * sk.LIMB_SHADE) for c in color)


def _as_frame(frame: Union[FramePose, dict, str, bytes]) -> FramePose:
    if isinstance(frame, FramePose):
        return frame
    frames = from_pose_keypoint(frame)
    if len(frames) != 1:
        raise ValueError(f"draw_pose draws one frame; got {len(frames)} frames (use draw_poses)")
    return frames[0]


def draw_pose(frame: Union[FramePose, dict, str, bytes], *, resolution: Optional[int] = None,
              size: Optional[tuple[int, int]] = None, body: bool = True, hands: bool = True, face: bool = True,
              feet: bool = False, xinsir: bool = False, threshold: float = sk.SCORE_THRESHOLD) -> np.ndarray:
    """One frame's people as an OpenPose image: ``H x W x 3`` uint8 RGB.

    ``frame``: a FramePose, or a POSE_KEYPOINT frame dict (or its JSON text). The output size is
    ``size=(W, H)`` when given, else :func:`output_size` of the canvas and ``resolution``.
    A frame with no person gives a black image of the output size.
    """
    frame = _as_frame(frame)
    if size is not None and resolution is not None:
        raise ValueError("give either resolution (short side) or size=(width, height), not both")
    if size is not None:
        out_w, out_h = _positive(size[0], "size[0]"), _positive(size[1], "size[1]")
    else:
        out_w, out_h = output_size(frame.width, frame.height, resolution)
    canvas = np.zeros((out_h, out_w, 3), dtype=np.uint8)
    if not frame.people:
        return canvas

    import cv2  # lazy: this module may be imported at ComfyUI start-up

    to_out = np.array([out_w / _positive(frame.width, "canvas width"),
                       out_h / _positive(frame.height, "canvas height")])
    widths = line_widths(out_w, out_h, xinsir)
    painter = _Painter(cv2, canvas, to_out, widths)
    for person in frame.people:
        painter.person(person, threshold, body=body, hands=hands, face=face, feet=feet)
    return canvas


def draw_poses(frames: Any, **options) -> list[np.ndarray]:
    """:func:`draw_pose` for every frame: a list/sequence of FramePose or frame dicts, or a
    whole POSE_KEYPOINT (list, dict or JSON text)."""
    if isinstance(frames, (str, bytes, bytearray, dict)):
        frames = from_pose_keypoint(frames)
    return [draw_pose(frame, **options) for frame in frames]


class _Painter:
    """Draws people on one canvas; holds the coordinate mapping and widths."""

    def __init__(self, cv2, canvas: np.ndarray, to_out: np.ndarray, widths: LineWidths):
        self.cv2, self.canvas, self.to_out, self.w = cv2, canvas, to_out, widths

    def _map(self, points: np.ndarray) -> np.ndarray:
        out = (np.asarray(points, dtype=np.float64) + 0.5) * self.to_out - 0.5
        return np.clip(out, -_COORD_LIMIT, _COORD_LIMIT)

    def _limb(self, p1: np.ndarray, p2: np.ndarray, width: int, color) -> None:
        mid = (p1 + p2) / 2.0
        dx, dy = p2[0] - p1[0], p2[1] - p1[1]
        half_length = _round(math.hypot(dx, dy) / 2.0)
        angle = _round(math.degrees(math.atan2(dy, dx)))
        polygon = self.cv2.ellipse2Poly((_round(mid[0]), _round(mid[1])), (half_length, width), angle, 0, 360, 1)
        self.cv2.fillConvexPoly(self.canvas, polygon, color, lineType=self.cv2.LINE_8)

    def _dot(self, p: np.ndarray, radius: int, color) -> None:
        self.cv2.circle(self.canvas, (_round(p[0]), _round(p[1])), radius, color, thickness=-1,
                        lineType=self.cv2.LINE_8)

    def person(self, person: Person, threshold: float, *, body: bool, hands: bool, face: bool, feet: bool) -> None:
        kp = person.keypoints.astype(np.float64)
        sc = person.scores.astype(np.float64)
        ok = np.isfinite(kp).all(axis=1) & np.isfinite(sc) & (sc >= threshold)
        pts = self._map(np.where(ok[:, None], kp, 0.0))

        if body:
            op_points, op_ok = openpose18(kp, sc, threshold)
            op_pts = self._map(op_points)
            for i, (a, b) in enumerate(sk.OPENPOSE_LIMBS):
                if op_ok[a] and op_ok[b]:
                    self._limb(op_pts[a], op_pts[b], self.w.stick, _shade(sk.OPENPOSE_COLORS[i]))
        if feet:
            for (ankle, toe), color in zip(sk.FOOT_EDGES, sk.FOOT_EDGE_COLORS):
                if ok[ankle] and ok[toe]:
                    self._limb(pts[ankle], pts[toe], self.w.stick, _shade(color))
            for (_, toe), color in zip(sk.FOOT_EDGES, sk.FOOT_EDGE_COLORS):
                if ok[toe]:
                    self._dot(pts[toe], self.w.joint_radius, tuple(color))
        if body:
            for j, color in enumerate(sk.OPENPOSE_COLORS):
                if op_ok[j]:
                    self._dot(op_pts[j], self.w.joint_radius, tuple(color))
        if hands:
            for hand in (sk.LEFT_HAND, sk.RIGHT_HAND):
                self._hand(pts[list(hand)], ok[list(hand)])
        if face:
            for k in sk.FACE:
                if ok[k]:
                    self._dot(pts[k], self.w.face_radius, sk.FACE_POINT_COLOR)

    def _hand(self, pts: np.ndarray, ok: np.ndarray) -> None:
        for (a, b), color in zip(sk.HAND_EDGES, sk.HAND_EDGE_COLORS):
            if ok[a] and ok[b]:
                self.cv2.line(self.canvas, (_round(pts[a][0]), _round(pts[a][1])),
                              (_round(pts[b][0]), _round(pts[b][1])), tuple(color),
                              thickness=self.w.hand_line, lineType=self.cv2.LINE_8)
        for k in range(len(pts)):
            if ok[k]:
                self._dot(pts[k], self.w.hand_point_radius, sk.HAND_POINT_COLOR)
