"""The array maths of retargeting: bone tables, length measurements, ratios and the rebuild of a
track from the neck outwards (:func:`retarget_arrays`). The rules are described in
:mod:`dwpose_core.animate.retarget`, which adapts FramePose clips and tracks to these arrays.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from ..skeleton import NUM_KEYPOINTS, SCORE_THRESHOLD
from ..errors import DWPoseError

__all__ = ["retarget_arrays", "BONES", "NECK", "RetargetError"]

NECK = NUM_KEYPOINTS  # the synthetic neck's index in the extended (134-point) arrays
_N_EXT = NUM_KEYPOINTS + 1

# (parent, child, group) in extended COCO-WholeBody indices, parents before children.
BONES = (
    (NECK, 5, "shoulder"), (NECK, 6, "shoulder"),
    (5, 7, "upper_arm"), (6, 8, "upper_arm"), (7, 9, "forearm"), (8, 10, "forearm"),
    (NECK, 11, "torso"), (NECK, 12, "torso"),
    (11, 13, "thigh"), (12, 14, "thigh"), (13, 15, "shin"), (14, 16, "shin"),
    (NECK, 0, "neck"), (0, 1, "nose_eye"), (0, 2, "nose_eye"), (1, 3, "eye_ear"), (2, 4, "eye_ear"),
    (15, 17, "big_toe"), (16, 20, "big_toe"), (15, 18, "small_toe"), (16, 21, "small_toe"),
    (15, 19, "heel"), (16, 22, "heel"),
)
_CORE_GROUPS = ("shoulder", "upper_arm", "forearm", "torso", "thigh", "shin")
# Rigid groups scaled uniformly about an anchor: (anchor, members, distance pairs measuring their size).
_HANDS = ((9, range(91, 112), ((91, 100),)), (10, range(112, 133), ((112, 121),)))
_FACE = (0, range(23, 91), ((59, 68), (50, 31)))
# Construction stand-ins: a missing point is replaced by another one for building only.
_STAND_INS = ((9, 91), (10, 112), (0, 53))
_FOOT = np.arange(15, 23)
_LEFT_RIGHT = {5: "l", 7: "l", 9: "l", 11: "l", 13: "l", 15: "l", 1: "l", 3: "l", 17: "l", 18: "l", 19: "l"}


class RetargetError(DWPoseError, ValueError):
    """The reference cannot be used (no person, no body)."""


def _extended(kp: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 133, 2) + present -> (..., 134, 2) with the neck = shoulder midpoint (both present)."""
    neck_ok = present[..., 5] & present[..., 6]
    ext = np.concatenate([kp, ((kp[..., 5, :] + kp[..., 6, :]) / 2.0)[..., None, :]], axis=-2)
    return ext, np.concatenate([present, neck_ok[..., None]], axis=-1)


def _group_keys(symmetric: bool) -> list[str]:
    return [g if symmetric or g == "shoulder" else g + _LEFT_RIGHT.get(c, "r") for _p, c, g in BONES]


def _lengths(ext: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(..., n_bones) bone lengths; nan where an end is missing."""
    par = np.array([p for p, _c, _g in BONES])
    chi = np.array([c for _p, c, _g in BONES])
    length = np.linalg.norm(ext[..., chi, :] - ext[..., par, :], axis=-1)
    return np.where(ok[..., chi] & ok[..., par], length, np.nan)


def _nanq(values: np.ndarray, q: float) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(values, q, axis=0) if values.shape[0] else np.full(values.shape[1:], np.nan)


def _nanmax(values: np.ndarray, axis=None) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(values, axis=axis)


def _group_max(lengths: np.ndarray, keys: list[str]) -> dict[str, float]:
    return {k: float(_nanmax(lengths[[i for i, kk in enumerate(keys) if kk == k]])) for k in dict.fromkeys(keys)}


def _measure(ext: np.ndarray, ok: np.ndarray, pairs) -> np.ndarray:
    """Mean of the distances ``pairs`` per frame (nan unless every point is present)."""
    a = np.array([i for i, _ in pairs])
    b = np.array([j for _, j in pairs])
    d = np.linalg.norm(ext[..., a, :] - ext[..., b, :], axis=-1)
    return np.where((ok[..., a] & ok[..., b]).all(axis=-1), d.mean(axis=-1), np.nan)


def _ratios(drive_ext, drive_ok, ref_ext, ref_ok, *, quantile, spread, symmetric):
    """Per-bone ratios, per-bone driving lengths, hand and face scales, and the global scale g."""
    keys = _group_keys(symmetric)
    d_group = _group_max(_nanq(_lengths(drive_ext, drive_ok), quantile), keys)
    r_group = _group_max(_lengths(ref_ext, ref_ok), keys)
    raw = {k: r_group[k] / d_group[k] if d_group[k] > 0 else np.nan for k in d_group}
    core = [raw[k] for k in raw if k.rstrip("lr") in _CORE_GROUPS or k in _CORE_GROUPS]
    core = [v for v in core if np.isfinite(v) and v > 0]  # a zero-length reference bone says nothing of scale
    g = float(np.median(core)) if core else _extent_ratio(drive_ext, drive_ok, ref_ext, ref_ok)

    def clamp(v: float, fallback: float) -> float:
        v = fallback if not np.isfinite(v) else v
        return float(np.clip(v, g / spread, g * spread))

    group_ratio = {k: clamp(v, g) for k, v in raw.items()}
    ratio = np.array([group_ratio[k] for k in keys])
    d_len = np.array([d_group[k] if np.isfinite(d_group[k]) and d_group[k] > 0
                      else (r_group[k] / g if np.isfinite(r_group[k]) and r_group[k] > 0 else 1.0) for k in keys])

    def scale(pairs, fallback: float) -> float:
        d = _nanq(_measure(drive_ext, drive_ok, pairs)[:, None], quantile)[0]
        r = float(_measure(ref_ext[None], ref_ok[None], pairs)[0])
        return clamp(r / d if d > 0 else np.nan, fallback)

    if symmetric:  # one palm length for both hands: the longer one, as for the bones
        hands = [_pair_scale(drive_ext, drive_ok, ref_ext, ref_ok, quantile, clamp, group_ratio[keys[4]])] * 2
    else:
        hands = [scale(m, group_ratio[keys[4 + i]]) for i, (_a, _mem, m) in enumerate(_HANDS)]
    face = scale(_FACE[2], group_ratio[keys[13]])
    return ratio, d_len, hands, face, g


def _pair_scale(drive_ext, drive_ok, ref_ext, ref_ok, quantile, clamp, fallback) -> float:
    d = [_nanq(_measure(drive_ext, drive_ok, m)[:, None], quantile)[0] for _a, _mem, m in _HANDS]
    r = [float(_measure(ref_ext[None], ref_ok[None], m)[0]) for _a, _mem, m in _HANDS]
    d_max, r_max = _nanmax(np.array(d)), _nanmax(np.array(r))
    return clamp(r_max / d_max if d_max > 0 else np.nan, fallback)


def _extent_ratio(drive_ext, drive_ok, ref_ext, ref_ok) -> float:
    """Fallback global scale: diagonal of the present points' extent, reference over driver."""
    def diag(ext, ok):
        lo = np.where(ok[..., None], ext, np.inf).min(axis=-2)
        hi = np.where(ok[..., None], ext, -np.inf).max(axis=-2)
        return np.linalg.norm(hi - lo, axis=-1)

    d = diag(drive_ext, drive_ok)
    d = d[np.isfinite(d) & (d > 0)]
    r = float(diag(ref_ext, ref_ok))
    return r / float(np.quantile(d, 0.9)) if d.size and np.isfinite(r) and r > 0 else 1.0


def _build(pos, ok, ratio, d_len, hand_scales, face_scale):
    """Relative output positions (T, 134, 2), root at the origin, built from the neck outwards."""
    n_t = pos.shape[0]
    rel = np.zeros_like(pos)
    # For every node: the nearest present ancestor's (output, drive) position and chain sums.
    a_rel = np.zeros_like(pos)
    a_pos = pos.copy()
    s_r = np.zeros((n_t, _N_EXT))
    s_d = np.zeros((n_t, _N_EXT))
    for b, (p, c, _g) in enumerate(BONES):
        here = ok[:, p][:, None]
        base_rel = np.where(here, rel[:, p], a_rel[:, p])
        base_pos = np.where(here, pos[:, p], a_pos[:, p])
        sr = np.where(ok[:, p], 0.0, s_r[:, p]) + ratio[b] * d_len[b]
        sd = np.where(ok[:, p], 0.0, s_d[:, p]) + d_len[b]
        rel[:, c] = base_rel + (sr / sd)[:, None] * (pos[:, c] - base_pos)
        a_rel[:, c], a_pos[:, c], s_r[:, c], s_d[:, c] = base_rel, base_pos, sr, sd
    for (anchor, members, _m), s in zip(_HANDS + (_FACE,), list(hand_scales) + [face_scale]):
        idx = np.asarray(members)
        here = ok[:, anchor][:, None]
        base_rel = np.where(here, rel[:, anchor], a_rel[:, anchor])
        base_pos = np.where(here, pos[:, anchor], a_pos[:, anchor])
        chain = np.where(ok[:, anchor], s, s_r[:, anchor] / np.maximum(s_d[:, anchor], 1e-9))
        rel[:, idx] = base_rel[:, None] + chain[:, None, None] * (pos[:, idx] - base_pos[:, None])
    return rel


def _interp(values: np.ndarray, known: np.ndarray, default) -> np.ndarray:
    """Fill frames where ``known`` is False by linear interpolation over time (ends held)."""
    values = np.asarray(values, dtype=np.float64)
    if known.all():
        return values
    if not known.any():
        return np.broadcast_to(np.asarray(default, dtype=np.float64), values.shape).copy()
    t = np.arange(len(values))
    out = values.copy()
    flat = out.reshape(len(values), -1)
    for j in range(flat.shape[1]):
        flat[:, j] = np.interp(t, t[known], flat[known, j])
    return out


def retarget_arrays(kp, scores, ref_kp, ref_scores, *, ref_canvas: tuple[int, int],
                    anchor: Optional[np.ndarray] = None, quantile: float = 0.9, max_ratio_spread: float = 2.5,
                    ground: bool = True, symmetric: bool = True, threshold: float = SCORE_THRESHOLD
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """One track: ``kp`` (T, 133, 2), ``scores`` (T, 133) -> (keypoints (T, 133, 2), offsets (T, 2), g).

    ``ref_kp`` / ``ref_scores``: the reference person (133 points); ``ref_canvas``: its (W, H).
    ``anchor``: the driving position that lands on the reference's neck (default: this track's
    neck in its first frame that has one). ``offsets``: per frame b such that the output is
    about ``g * input + b`` (used for boxes and for frames without a body). See the module text.
    """
    kp = np.asarray(kp, np.float64).reshape(-1, NUM_KEYPOINTS, 2)
    sc = np.asarray(scores, np.float64).reshape(-1, NUM_KEYPOINTS)
    ref_kp = np.asarray(ref_kp, np.float64).reshape(NUM_KEYPOINTS, 2)
    ref_sc = np.asarray(ref_scores, np.float64).reshape(NUM_KEYPOINTS)
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be within (0, 1], got {quantile}")
    if max_ratio_spread < 1.0:
        raise ValueError(f"max_ratio_spread must be >= 1, got {max_ratio_spread}")
    n_t = kp.shape[0]
    present = (sc >= threshold) & np.isfinite(kp).all(-1)
    kp = np.where(present[..., None], kp, np.nan_to_num(kp))
    ref_present = (ref_sc >= threshold) & np.isfinite(ref_kp).all(-1)
    if not ref_present.any():
        raise RetargetError("the reference person has no keypoint above the score threshold")
    ext, ok = _extended(kp, present)
    ref_ext, ref_ok = _extended(ref_kp, ref_present)
    ratio, d_len, hands, face, g = _ratios(ext, ok, ref_ext, ref_ok, quantile=quantile,
                                           spread=max_ratio_spread, symmetric=symmetric)

    # Construction positions: stand-ins where a point is missing.
    pos, cok = ext.copy(), ok.copy()
    for point, stand_in in _STAND_INS:
        use = ~cok[:, point] & cok[:, stand_in]
        pos[use, point], cok[use, point] = pos[use, stand_in], True
    for side in (5, 6):
        use = ~cok[:, NECK] & ok[:, side]
        pos[use, NECK], cok[use, NECK] = pos[use, side], True
    root_ok = cok[:, NECK]
    rel = _build(pos, cok, ratio, d_len, hands, face)

    ref_root = _reference_root(ref_ext, ref_ok)
    if anchor is None:
        anchor = pos[np.argmax(root_ok), NECK] if root_ok.any() else _centroid(kp, present)
    placed = ref_root + g * (pos[:, NECK] - anchor)  # (T, 2) output root position

    delta = np.zeros(n_t)
    ref_h = ref_canvas[1]
    ref_feet = ref_ok[_FOOT]
    full_ref = ref_ok[15] & ref_ok[16] and max(ref_ext[15, 1], ref_ext[16, 1]) <= ref_h
    if ground and full_ref:
        feet = ok[:, _FOOT] & ref_feet & root_ok[:, None]
        full = ok[:, 15] & ok[:, 16] & root_ok
        if full.any():
            neg = -np.inf
            drv_low = np.where(feet, ext[:, _FOOT, 1], neg).max(-1)
            ref_low = np.where(feet, ref_ext[_FOOT, 1], neg).max(-1)
            out_low = np.where(feet, rel[:, _FOOT, 1] + placed[:, None, 1], neg).max(-1)
            drv_ground = float(np.median(drv_low[full]))
            target = ref_low - g * (drv_ground - drv_low)
            full &= np.isfinite(target) & np.isfinite(out_low)
            with np.errstate(invalid="ignore"):
                delta = _interp(np.where(full, target - out_low, 0.0), full, 0.0)
    placed = placed + np.stack([np.zeros(n_t), delta], -1)

    out = rel + placed[:, None, :]
    offsets = placed - g * pos[:, NECK]
    if not root_ok.all():  # frames without a body: the global similarity of their neighbours
        offsets = _interp(offsets, root_ok, ref_root - g * anchor)
        far = ~root_ok
        out[far] = g * ext[far] + offsets[far][:, None, :]
    return out[:, :NUM_KEYPOINTS], offsets, g


def _centroid(kp: np.ndarray, present: np.ndarray) -> np.ndarray:
    return kp[present].mean(axis=0) if present.any() else np.zeros(2)


def _reference_root(ref_ext: np.ndarray, ref_ok: np.ndarray) -> np.ndarray:
    if ref_ok[NECK]:
        return ref_ext[NECK]
    for side in (5, 6):
        if ref_ok[side]:
            return ref_ext[side]
    return ref_ext[:NUM_KEYPOINTS][ref_ok[:NUM_KEYPOINTS]].mean(axis=0)
