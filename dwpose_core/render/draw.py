"""Draw poses on a black canvas, the way the pose-conditioned models were trained on.

The renderer takes :class:`~dwpose_core.types.FramePose` and nothing else (reading JSON into
FramePose is :mod:`dwpose_core.formats.pose_json`' job). How to draw comes from a render profile
(:mod:`dwpose_core.render.profiles`, default ``controlnet``, today's OpenPose drawing):

- body limbs: filled ellipses joint to joint (half-width = stick width) in 0.6 x the limb's
  colour; joints: filled circles in the full colour; a joint is drawn when its score >=
  the threshold, the neck (shoulder midpoint) when both shoulders are;
- feet: ``controlnet`` (off unless ``feet=True``) draws ankle -> big toe / small toe / heel
  like limbs and the points like joints, in skeleton's foot colours; ``wan_animate`` and
  ``unianimate`` draw one toe point per foot (mean of big and small toe, present when both
  are) with an ankle -> toe limb;
- hands: edge i as a line in HSV(i/20, 1, 1), points as pure blue circles;
- face: the 68 landmarks as white circles (no pupils).

Draw order, per person: body limbs, feet, body joints, hands, face. Feet come before the
body joints so that an ankle joint stays a full-colour circle on top of its foot.

Drawing happens on the profile's drawing canvas (the output size itself for ``controlnet``:
never drawn small and upscaled) with antialiasing off; profiles that draw at another size
are resized to the output afterwards. Coordinates map from the canvas (original frame, pixel
centres at integers) by ``x_out = (x + 0.5) * W_draw / W_canvas - 0.5``, rounded to whole pixels.

``controlnet`` widths (:func:`line_widths`): with s = short side / 512, every width is
``max(1, round(reference x s))``: stick 4, joint radius 4, hand line 2, hand point radius 4,
face point radius 3. ``xinsir=True`` (controlnet only) uses the xinsir SDXL rule instead.

Size limit: an output or drawing canvas over :data:`MAX_SIDE` pixels per side or
:data:`MAX_PIXELS` pixels in all is refused with :class:`OutputSizeError`.

Public API: :func:`output_size`, :func:`line_widths`, :func:`draw_pose`, :func:`draw_poses`,
:func:`pose_commands` (the drawing commands, shared with the node preview), :data:`PROFILES`.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Sequence

import numpy as np

from .. import skeleton as sk
from .profiles import DEFAULT_PROFILE, PROFILES, LineWidths, Profile, controlnet_widths, get_profile
from ..types import FramePose, Person, enabled_parts
from ..errors import DWPoseError

__all__ = ["LineWidths", "OutputSizeError", "MAX_SIDE", "MAX_PIXELS", "PROFILES", "Strokes", "Drawing",
           "output_size", "line_widths", "draw_pose", "draw_poses", "pose_commands"]

MAX_SIDE = 16384  # pixels per side of an output (or drawing) canvas
MAX_PIXELS = 100_000_000  # pixels in all
_COORD_LIMIT = 1 << 24  # cv2 draws with int32 coordinates; keep far-away points well inside that range


class OutputSizeError(DWPoseError, ValueError):
    """A pose picture larger than MAX_SIDE per side or MAX_PIXELS in all."""


class Strokes(NamedTuple):
    """One batch of drawing commands, in drawing-canvas pixels.

    kind ``"limb"``: filled ellipse from a to b, half-width ``size``; ``"line"``: line a -> b,
    thickness ``size``; ``"dot"``: filled circle at a (= b) of radius ``size``.
    ``colors``: (n, 3) uint8, in the picture's final channel order.
    """
    kind: str
    a: np.ndarray  # (n, 2) float64
    b: np.ndarray
    size: int
    colors: np.ndarray


class Drawing(NamedTuple):
    width: int  # drawing canvas
    height: int
    strokes: list  # list[Strokes], in draw order


def _round(v: float) -> int:
    return int(math.floor(v + 0.5))


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or not math.isfinite(value) or value != int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number of pixels; got {value!r}")
    return int(value)


def _check_size(width: int, height: int, what: str) -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise OutputSizeError(f"{what} of {width}x{height} pixels is too large: at most {MAX_SIDE} pixels per side "
                              f"and {MAX_PIXELS // 1_000_000} megapixels; choose a smaller resolution or size")


def output_size(width: int, height: int, resolution: Optional[int] = None) -> tuple[int, int]:
    """Pose image size ``(W, H)`` for a ``width`` x ``height`` canvas.

    ``resolution`` is the short side: both sides are scaled by ``resolution / short side``
    and rounded to a multiple of 8 (at least 8). ``None`` keeps the canvas size unchanged.
    A size over the limits (MAX_SIDE, MAX_PIXELS) is an :class:`OutputSizeError`.
    """
    width, height = _positive(width, "width"), _positive(height, "height")
    if resolution is None:
        out = width, height
    else:
        resolution = _positive(resolution, "resolution")
        k = resolution / min(width, height)
        out = max(8, _round(width * k / 8) * 8), max(8, _round(height * k / 8) * 8)
    _check_size(*out, f"a pose image for a {width}x{height} canvas" +
                ("" if resolution is None else f" at resolution {resolution}"))
    return out


def line_widths(width: int, height: int, xinsir: bool = False) -> LineWidths:
    """``controlnet`` widths for an output image of ``width`` x ``height`` (see the module docstring)."""
    return controlnet_widths(width, height, xinsir)


def _feet_on(profile: Profile, feet: Optional[bool]) -> bool:
    return profile.feet is not None and (profile.feet_default if feet is None else bool(feet))


def pose_commands(frame: FramePose, *, size: tuple[int, int], body: bool = True, hands: bool = True,
                  face: bool = True, feet: Optional[bool] = None, xinsir: bool = False,
                  threshold: Optional[float] = None, profile: str = DEFAULT_PROFILE) -> Drawing:
    """The drawing commands of one frame for an output of ``size=(W, H)`` (see :func:`draw_pose`)."""
    if not isinstance(frame, FramePose):
        raise TypeError(f"the renderer draws FramePose objects; got {type(frame).__name__} (read POSE_KEYPOINT "
                        f"with dwpose_core.formats.pose_json.from_pose_keypoint first)")
    prof = get_profile(profile)
    out_w, out_h = _positive(size[0], "size[0]"), _positive(size[1], "size[1]")
    _check_size(out_w, out_h, "a pose image")
    draw_w, draw_h = prof.draw_size(out_w, out_h)
    if (draw_w, draw_h) != (out_w, out_h):
        _check_size(draw_w, draw_h, f"the {prof.name} profile's drawing canvas (for a {out_w}x{out_h} image)")
    widths = prof.widths(draw_w, draw_h, bool(xinsir) and prof.name == DEFAULT_PROFILE)
    threshold = prof.threshold if threshold is None else float(threshold)
    wanted = set(prof.parts) | ({"feet"} if _feet_on(prof, feet) else set())
    toggles = dict(body=body and "body" in wanted, hands=hands and "hands" in wanted,
                   face=face and "face" in wanted, feet="feet" in wanted)
    to_draw = np.array([draw_w / _positive(frame.width, "canvas width"),
                        draw_h / _positive(frame.height, "canvas height")])
    strokes: list = []
    for person in _chosen(frame.people, prof):
        parts = set(enabled_parts(frame, person, **toggles))
        if parts:
            strokes += _PersonStrokes(prof, widths, to_draw, threshold).build(person, parts)
    if prof.rb_swap:
        strokes = [s._replace(colors=s.colors[:, ::-1].copy()) for s in strokes]
    return Drawing(draw_w, draw_h, strokes)


def _chosen(people: Sequence[Person], prof: Profile) -> Sequence[Person]:
    if prof.max_people is None or len(people) <= prof.max_people:
        return people
    body_score = [float(np.mean(p.scores[sk.BODY.start:sk.BODY.stop])) for p in people]
    order = sorted(range(len(people)), key=lambda i: -body_score[i])[:prof.max_people]
    return [people[i] for i in sorted(order)]


def draw_pose(frame: FramePose, *, resolution: Optional[int] = None, size: Optional[tuple[int, int]] = None,
              body: bool = True, hands: bool = True, face: bool = True, feet: Optional[bool] = None,
              xinsir: bool = False, threshold: Optional[float] = None, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """One frame's people as a pose image: ``H x W x 3`` uint8 RGB.

    ``frame``: a FramePose (its own and its people's ``parts`` are respected). The output size is
    ``size=(W, H)`` when given, else :func:`output_size` of the canvas and ``resolution``.
    ``profile``: a name from :data:`PROFILES`. ``body``/``hands``/``face`` switch parts off on top
    of the profile's parts; ``feet``: None = the profile's default (off for ``controlnet``, the toe
    points for ``wan_animate``/``unianimate``), True/False = on/off where the profile draws feet.
    ``threshold``: None = the profile's. A frame with no person gives a black image.
    """
    if not isinstance(frame, FramePose):
        raise TypeError(f"draw_pose draws a FramePose; got {type(frame).__name__} (read POSE_KEYPOINT with "
                        f"dwpose_core.formats.pose_json.from_pose_keypoint first)")
    if size is not None and resolution is not None:
        raise ValueError("give either resolution (short side) or size=(width, height), not both")
    if size is not None:
        out_w, out_h = _positive(size[0], "size[0]"), _positive(size[1], "size[1]")
        _check_size(out_w, out_h, "a pose image")
    else:
        out_w, out_h = output_size(frame.width, frame.height, resolution)
    drawing = pose_commands(frame, size=(out_w, out_h), body=body, hands=hands, face=face, feet=feet,
                            xinsir=xinsir, threshold=threshold, profile=profile)
    canvas = np.zeros((drawing.height, drawing.width, 3), dtype=np.uint8)
    if not drawing.strokes:
        return canvas if canvas.shape[:2] == (out_h, out_w) else np.zeros((out_h, out_w, 3), np.uint8)

    import cv2  # lazy: this module may be imported at ComfyUI start-up

    for strokes in drawing.strokes:
        _paint(cv2, canvas, strokes)
    if canvas.shape[:2] != (out_h, out_w):
        canvas = _resize(cv2, canvas, drawing.strokes, out_w, out_h)
    return canvas


def _aligned_span(lo: float, hi: float, n_in: int, n_out: int) -> Optional[tuple[int, int, int, int]]:
    """Input and output spans [i0, i1) -> [o0, o1) covering input [lo, hi) whose ends sit where input
    and output pixel edges coincide (so resizing the span alone gives the full resize's pixels)."""
    from fractions import Fraction

    ratio = Fraction(n_in, n_out)
    p, q = ratio.numerator, ratio.denominator
    if q > n_out // 4:  # edges rarely coincide: not worth it
        return None
    o0 = max(int(lo) // p, 0) * q
    o1 = min(-(-int(math.ceil(hi)) // p) * q, n_out)
    if o1 <= o0:
        return None
    return o0 * p // q, (o1 * p // q if o1 < n_out else n_in), o0, o1


def _resize(cv2, canvas: np.ndarray, strokes: list, out_w: int, out_h: int) -> np.ndarray:
    """A drawing canvas to the output size: INTER_AREA when shrinking, INTER_LINEAR otherwise. When
    shrinking, only the part with strokes is resized (cut where pixel edges coincide, so the result
    is exactly the whole canvas's resize): the rest is black either way."""
    h, w = canvas.shape[:2]
    if out_w >= w or out_h >= h:
        return cv2.resize(canvas, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    pts = np.concatenate([np.concatenate([st.a, st.b]) for st in strokes])
    reach = max(st.size for st in strokes) + 2
    lo = np.clip(np.floor(pts.min(axis=0)) - reach, 0, [w, h])
    hi = np.clip(np.ceil(pts.max(axis=0)) + reach + 1, 0, [w, h])
    xs = _aligned_span(lo[0], hi[0], w, out_w)
    ys = _aligned_span(lo[1], hi[1], h, out_h)
    if xs is None or ys is None or (xs[3] - xs[2]) * (ys[3] - ys[2]) > 0.6 * out_w * out_h:
        return cv2.resize(canvas, (out_w, out_h), interpolation=cv2.INTER_AREA)
    out = np.zeros((out_h, out_w, 3), np.uint8)
    (ix0, ix1, ox0, ox1), (iy0, iy1, oy0, oy1) = xs, ys
    out[oy0:oy1, ox0:ox1] = cv2.resize(canvas[iy0:iy1, ix0:ix1], (ox1 - ox0, oy1 - oy0),
                                       interpolation=cv2.INTER_AREA)
    return out


def draw_poses(frames: Sequence[FramePose], **options) -> list[np.ndarray]:
    """:func:`draw_pose` for every FramePose of ``frames``."""
    if isinstance(frames, FramePose):
        raise TypeError("draw_poses takes a list of FramePose; use draw_pose for one")
    return [draw_pose(frame, **options) for frame in frames]


def _paint(cv2, canvas: np.ndarray, s: Strokes) -> None:
    a = np.floor(np.clip(s.a, -_COORD_LIMIT, _COORD_LIMIT) + 0.5).astype(np.int64).tolist()
    b = np.floor(np.clip(s.b, -_COORD_LIMIT, _COORD_LIMIT) + 0.5).astype(np.int64).tolist()
    colors = s.colors.tolist()
    if s.kind == "limb":
        d = s.b - s.a
        half = np.floor(np.hypot(d[:, 0], d[:, 1]) / 2.0 + 0.5).astype(np.int64).tolist()
        angle = np.floor(np.degrees(np.arctan2(d[:, 1], d[:, 0])) + 0.5).astype(np.int64).tolist()
        mid = np.floor(np.clip((s.a + s.b) / 2.0, -_COORD_LIMIT, _COORD_LIMIT) + 0.5).astype(np.int64).tolist()
        for m, h, ang, c in zip(mid, half, angle, colors):
            polygon = cv2.ellipse2Poly(tuple(m), (min(h, _COORD_LIMIT), s.size), ang, 0, 360, 1)
            cv2.fillConvexPoly(canvas, polygon, c, lineType=cv2.LINE_8)
    elif s.kind == "line":
        for p, q, c in zip(a, b, colors):
            cv2.line(canvas, tuple(p), tuple(q), c, thickness=s.size, lineType=cv2.LINE_8)
    else:
        for p, c in zip(a, colors):
            cv2.circle(canvas, tuple(p), s.size, c, thickness=-1, lineType=cv2.LINE_8)


def _colors(base, factor) -> np.ndarray:
    c = np.asarray(base, dtype=np.float64).reshape(-1, 3) * np.asarray(factor, dtype=np.float64).reshape(-1, 1)
    return np.clip(np.floor(c + 0.5), 0, 255).astype(np.uint8)


class _PersonStrokes:
    """Builds one person's strokes from the profile's tables (all selection vectorised)."""

    def __init__(self, prof: Profile, widths: LineWidths, to_draw: np.ndarray, threshold: float):
        self.prof, self.w, self.to_draw, self.threshold = prof, widths, to_draw, threshold

    def _map(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) + 0.5) * self.to_draw - 0.5

    def build(self, person: Person, parts: set) -> list:
        prof, w = self.prof, self.w
        kp = person.keypoints.astype(np.float64)
        sc = person.scores.astype(np.float64)
        ok = sk.present_mask(kp, sc, self.threshold)
        pts = self._map(np.where(ok[:, None], kp, 0.0))
        op_pts, op_ok, op_sc = sk.openpose18_scored(kp, sc, self.threshold)
        op_pts = self._map(op_pts)
        conf = op_sc if prof.confidence_colors else np.ones(len(op_sc))
        out: list = []
        if "body" in parts:
            limbs = np.array(prof.limbs)
            sel = op_ok[limbs[:, 0]] & op_ok[limbs[:, 1]]
            a, b = limbs[sel, 0], limbs[sel, 1]
            out.append(Strokes("limb", op_pts[a], op_pts[b], w.stick,
                               _colors(np.asarray(prof.limb_colors)[:len(limbs)][sel], sk.LIMB_SHADE * conf[a] * conf[b])))
        if "feet" in parts:
            out += self._feet(kp, ok, pts, op_pts, op_ok)
        if "body" in parts:
            out.append(Strokes("dot", op_pts[op_ok], op_pts[op_ok], w.joint_radius,
                               _colors(np.asarray(prof.joint_colors)[op_ok], conf[op_ok])))
        if "hands" in parts:
            edges = np.array(sk.HAND_EDGES)
            for hand in (sk.LEFT_HAND, sk.RIGHT_HAND):
                h_ok, h_pts = ok[hand.start:hand.stop], pts[hand.start:hand.stop]
                sel = h_ok[edges[:, 0]] & h_ok[edges[:, 1]]
                out.append(Strokes("line", h_pts[edges[sel, 0]], h_pts[edges[sel, 1]], w.hand_line,
                                   _colors(np.asarray(sk.HAND_EDGE_COLORS)[sel], 1.0)))
                out.append(Strokes("dot", h_pts[h_ok], h_pts[h_ok], w.hand_point_radius,
                                   _colors(np.tile(sk.HAND_POINT_COLOR, (int(h_ok.sum()), 1)), 1.0)))
        if "face" in parts:
            f_ok, f_pts = ok[sk.FACE.start:sk.FACE.stop], pts[sk.FACE.start:sk.FACE.stop]
            out.append(Strokes("dot", f_pts[f_ok], f_pts[f_ok], w.face_radius,
                               _colors(np.tile(sk.FACE_POINT_COLOR, (int(f_ok.sum()), 1)), 1.0)))
        return [s for s in out if len(s.a)]

    def _feet(self, kp, ok, pts, op_pts, op_ok) -> list:
        prof, w = self.prof, self.w
        if prof.feet == "wholebody":
            edges = np.array(sk.FOOT_EDGES)
            sel = ok[edges[:, 0]] & ok[edges[:, 1]]
            colors = np.asarray(sk.FOOT_EDGE_COLORS)
            toe_ok = ok[edges[:, 1]]
            return [Strokes("limb", pts[edges[sel, 0]], pts[edges[sel, 1]], w.stick,
                            _colors(colors[sel], sk.LIMB_SHADE)),
                    Strokes("dot", pts[edges[toe_ok, 1]], pts[edges[toe_ok, 1]], w.joint_radius,
                            _colors(colors[toe_ok], 1.0))]
        toes = np.array([sk.LEFT_TOE_FROM_COCO, sk.RIGHT_TOE_FROM_COCO])
        toe_ok = ok[toes[:, 0]] & ok[toes[:, 1]]
        toe_pts = self._map(kp[toes].mean(axis=1))
        ankles = np.array([sk.LEFT_ANKLE_OPENPOSE, sk.RIGHT_ANKLE_OPENPOSE])
        sel = toe_ok & op_ok[ankles]
        return [Strokes("limb", op_pts[ankles[sel]], toe_pts[sel], w.stick,
                        _colors(np.asarray(prof.toe_limb_colors)[sel], sk.LIMB_SHADE)),
                Strokes("dot", toe_pts[toe_ok], toe_pts[toe_ok], w.joint_radius,
                        _colors(np.asarray(prof.toe_joint_colors)[toe_ok], 1.0))]
