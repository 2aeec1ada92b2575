"""Zero-lag smoothing of keypoint trajectories over a whole clip.

Method: confidence-weighted local quadratic regression with a locally
chosen bandwidth (a Lepski-style goodness-of-fit rule).

* For every track and keypoint, each frame's position is re-estimated by a
  weighted least-squares quadratic fitted to the frames around it (Gaussian
  kernel in time, weights x the keypoint's score). The kernel is symmetric,
  so there is no lag, and a quadratic reproduces constant velocity and
  constant acceleration exactly, so steady motion is not flattened.
* Fits are made at a few bandwidths, narrow to wide. A fit is trusted at a
  frame when its residuals over the nearby frames are no larger than the
  trajectory's own noise explains (noise estimated robustly from the median
  second difference; the expected residual of a linear smoother is known
  exactly). The widest bandwidth that passes, with all narrower ones passing
  too, is kept. Where the person stands still or moves smoothly the widest
  fit survives (strong smoothing); during fast genuine motion the wide fits
  leave large residuals, a narrow one is kept, and the motion is not dragged.
* Near the end of a run the window is one-sided, and a one-sided quadratic
  is noisy; there the kernel is widened (up to 2x at the last frame) so the
  fit keeps about as many frames as inside the run (as LOWESS's
  nearest-neighbour span does). The goodness-of-fit rule still guards it.
* Before fitting, a point that its neighbours (the point itself left out)
  predict badly — beyond ``outlier_sigma`` standard deviations — is treated
  as an outlier: it stays in its trajectory but gets no weight, so a one-frame
  keypoint jump is replaced by what its neighbours say.
* A point is present when its score is >= ``threshold``. Missing points are
  left exactly as they are, and a fit never reaches across a gap: each run of
  consecutive present frames (per track and keypoint) is smoothed on its own.
  Frames in which a track is absent are gaps too. Scores and boxes are kept.

Long clips in consecutive batches: pass the same :class:`SmootherState` to
every call. It keeps the last frames (raw) of every track and the running
noise statistics, so the next batch is smoothed exactly as it would have
been inside one long batch and joins the previous one smoothly. (The last
frames of a batch cannot see the future: they are fitted one-sided, as the
end of a clip is.) Track ids are continued through the state's tracker when
they have to be assigned here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..skeleton import NUM_KEYPOINTS, SCORE_THRESHOLD
from ..types import FramePose
from .tracking import TrackerState, track

__all__ = ["SmootherState", "smooth", "smooth_trajectories", "context_length", "DEFAULT_BANDWIDTHS"]

# Gaussian kernel widths (standard deviation, in frames) tried at strength 1.
DEFAULT_BANDWIDTHS = (0.7, 1.2, 2.0, 3.3)
# Kernel width of the leave-one-out fit that flags outliers.
_OUTLIER_BANDWIDTH = 1.0
_MIN_CONFIDENCE = 0.05
# Half-width (frames) of the window whose residuals judge a fit.
_FIT_WINDOW = 6
# Bin edges (px) of the |second difference| histograms behind the noise estimate.
_D2_EDGES = np.geomspace(1e-3, 1e4, 281)


@dataclass
class SmootherState:
    """What :func:`smooth` carries from one batch of a clip to the next."""

    tracker: Optional[TrackerState] = None  # used only when smooth() assigns track ids itself
    # track_id -> (keypoints (n, 133, 2), scores (n, 133)): raw observations of the
    # last n frames of the previous batches (score 0 where the track was absent).
    tails: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    tail_length: int = 0
    # track_id -> (keypoints, bins) histogram of |second differences| seen so far.
    noise: dict[int, np.ndarray] = field(default_factory=dict)


def _segments(present: np.ndarray) -> np.ndarray:
    """Per (frame, keypoint) id of its run of consecutive present frames; -1 where missing."""
    start = present.copy()
    start[1:] &= ~present[:-1]
    seg = np.cumsum(start, axis=0) - 1
    seg[~present] = -1
    return seg


def _d2_histogram(y: np.ndarray, seg: np.ndarray, first: int = 0) -> np.ndarray:
    """Per-keypoint histogram (keypoints, bins) of |second differences| within runs.

    Only second differences centred at frame ``first + 1`` or later are
    counted, so that context frames already counted in an earlier batch are
    not counted twice. Histograms of consecutive batches simply add up.
    """
    n_kp = y.shape[1]
    n_bins = len(_D2_EDGES) - 1
    if y.shape[0] < 3:
        return np.zeros((n_kp, n_bins), dtype=np.int32)
    valid = (seg[2:] == seg[:-2]) & (seg[:-2] >= 0)  # runs are contiguous: t+1 is in them too
    valid[:first] = False
    d2 = np.abs(y[2:] - 2.0 * y[1:-1] + y[:-2])  # (t, k, 2)
    t_idx, k_idx = np.nonzero(valid)
    values = d2[t_idx, k_idx].reshape(-1)
    bins = np.clip(np.searchsorted(_D2_EDGES, values, side="right") - 1, 0, n_bins - 1)
    flat = np.repeat(k_idx, 2) * n_bins + bins
    return np.bincount(flat, minlength=n_kp * n_bins).reshape(n_kp, n_bins).astype(np.int32)


def _histogram_median(hist: np.ndarray) -> np.ndarray:
    """Median of each row of a histogram over ``_D2_EDGES`` (log-interpolated); nan if empty."""
    total = hist.sum(axis=-1)
    cum = np.cumsum(hist, axis=-1)
    half = total / 2.0
    idx = np.minimum(np.argmax(cum >= half[..., None], axis=-1), hist.shape[-1] - 1)
    below = np.take_along_axis(cum, idx[..., None], -1)[..., 0] - np.take_along_axis(hist, idx[..., None], -1)[..., 0]
    inside = np.take_along_axis(hist, idx[..., None], -1)[..., 0]
    frac = np.clip((half - below) / np.maximum(inside, 1), 0.0, 1.0)
    log_edges = np.log(_D2_EDGES)
    value = np.exp(log_edges[idx] + frac * (log_edges[idx + 1] - log_edges[idx]))
    return np.where(total > 0, value, np.nan)


def _noise_sigma(hist: np.ndarray) -> np.ndarray:
    """Per-keypoint noise standard deviation (px) from its |second difference| histogram.

    For white noise of deviation s the second difference has deviation
    sqrt(6) s, and a median of absolute values is 0.6745 deviations; the median
    ignores the few large second differences that genuine motion produces.
    """
    scale = 1.0 / (0.6745 * np.sqrt(6.0))
    sigma = _histogram_median(hist) * scale
    # Too few samples for a keypoint of its own: use the typical keypoint's level.
    enough = hist.sum(axis=-1) >= 10
    if enough.any():
        fallback = float(np.median(sigma[enough]))
    elif hist.sum() > 0:
        fallback = float(_histogram_median(hist.sum(axis=0)) * scale)
    else:
        fallback = 1.0
    sigma = np.where(enough, sigma, fallback)
    return np.maximum(sigma, 1e-3)


def _shifts(n_t: int, reach: int, skip_zero: bool = False):
    """(offset, destination slice, source slice) for every offset within ``reach``."""
    for o in range(-reach, reach + 1):
        if skip_zero and o == 0:
            continue
        yield o, slice(max(0, -o), n_t - max(0, o)), slice(max(0, o), n_t + min(0, o))


def _run_distances(seg: np.ndarray) -> np.ndarray:
    """Per (frame, keypoint): frames to the nearer end of its run (0 at either end)."""
    n_t = seg.shape[0]
    t = np.arange(n_t)[:, None]
    present = seg >= 0
    starts = present.copy()
    starts[1:] &= seg[1:] != seg[:-1]
    ends = present.copy()
    ends[:-1] &= seg[:-1] != seg[1:]
    first = np.maximum.accumulate(np.where(starts, t, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends, t, n_t)[::-1], axis=0)[::-1]
    return np.minimum(t - first, last - t)


def _hankel3(moments: np.ndarray) -> np.ndarray:
    """(5, ...) moments sum x^k -> (..., 3, 3) normal matrices [sum x^(i+j)]."""
    out = np.empty(moments.shape[1:] + (3, 3))
    for i in range(3):
        for j in range(3):
            out[..., i, j] = moments[i + j]
    return out


def _local_quadratic(y, weight, seg, h, exclude_centre=False, widen_at_ends=False):
    """Weighted local quadratic fit at every frame.

    ``weight`` is the per-sample confidence (0 = ignored); noise is modelled
    as variance sigma^2 / weight. Returns (estimate, var, lever): ``var`` is
    Var(estimate) / sigma^2 (inf where nothing could be fitted) and ``lever``
    the estimate's weight on its own sample divided by that sample's weight.
    ``widen_at_ends``: near the end of a run, where the window is one-sided,
    widen the kernel (up to 2x at the last frame) so the fit keeps about as
    many frames as inside the run, as LOWESS does with its nearest-neighbour
    span; a one-sided quadratic is otherwise much noisier than a centred one.
    """
    n_t, n_kp = seg.shape
    reach = int(np.ceil(3.0 * h))
    if widen_at_ends:
        edge = np.minimum(_run_distances(seg), 3.0 * h)
        width = np.maximum(float(h), (6.0 * h - edge) / 3.0)
        reach = int(np.ceil(3.0 * width.max()))
    reach = min(reach, n_t - 1)
    s = np.zeros((5, n_t, n_kp))  # sum w x^k
    q = np.zeros((5, n_t, n_kp))  # sum (w^2 / confidence) x^k
    b = np.zeros((3, n_t, n_kp, 2))  # sum w x^k y
    for o, dst, src in _shifts(n_t, reach, skip_zero=exclude_centre):
        same = (seg[src] == seg[dst]) & (seg[dst] >= 0)
        x = o / width[dst] if widen_at_ends else o / h  # kernel units keep the equations well conditioned
        g = np.exp(-0.5 * x * x)
        w = np.where(same & (np.abs(x) <= 3.0), g * weight[src], 0.0)
        wx, gwx = w, g * w  # w x^k and (w^2 / confidence) x^k, k = 0, 1, ...
        for k in range(5):
            s[k, dst] += wx
            q[k, dst] += gwx
            if k < 3:
                b[k, dst] += wx[..., None] * y[src]
            wx = wx * x
            gwx = gwx * x
    empty = s[0] <= 0
    m = _hankel3(s)
    ridge = 1e-10 * s[0] + 1e-15  # picks the lower-degree fit when a quadratic is undetermined
    m[..., 1, 1] += ridge
    m[..., 2, 2] += ridge
    m[empty] = np.eye(3)
    e1 = np.zeros(3)
    e1[0] = 1.0
    a = np.linalg.solve(m, np.broadcast_to(e1, m.shape[:-1])[..., None])[..., 0]
    est = np.einsum("tkc,ctkd->tkd", a, b)
    qm = _hankel3(q)
    var = np.einsum("tki,tkij,tkj->tk", a, qm, a)
    est[empty] = y[empty]
    var = np.where(empty, np.inf, np.maximum(var, 0.0))
    lever = 0.0 if exclude_centre else np.where(empty, 0.0, a[..., 0])
    return est, var, lever


def _window_mean(z: np.ndarray, use: np.ndarray, seg: np.ndarray, reach: int):
    """Mean of ``z`` over the frames within ``reach`` of the same run; and their count."""
    n_t = seg.shape[0]
    total = np.zeros(seg.shape)
    count = np.zeros(seg.shape)
    for _, dst, src in _shifts(n_t, min(reach, n_t - 1)):
        same = (seg[src] == seg[dst]) & (seg[dst] >= 0) & use[src]
        total[dst] += np.where(same, z[src], 0.0)
        count[dst] += same
    return total / np.maximum(count, 1), count


def smooth_trajectories(
    y: np.ndarray,
    scores: np.ndarray,
    *,
    strength: float = 1.0,
    threshold: float = SCORE_THRESHOLD,
    motion_tolerance: float = 2.0,
    outlier_sigma: Optional[float] = 6.0,
    noise: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Smooth ``y`` (frames, keypoints, 2) given ``scores`` (frames, keypoints).

    Points with score < ``threshold`` are returned unchanged and split the
    trajectory. ``noise`` is the per-keypoint noise deviation in px (estimated
    from ``y`` when omitted). See the module docstring for the method.
    """
    y = np.asarray(y, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if strength <= 0 or y.shape[0] < 2:
        return y.copy()
    present = scores >= threshold
    seg = _segments(present)
    if noise is None:
        noise = _noise_sigma(_d2_histogram(y, seg))
    var_noise = np.asarray(noise, dtype=np.float64).reshape(1, -1) ** 2
    conf = np.where(present, np.clip(scores, _MIN_CONFIDENCE, 1.0), 0.0)

    if outlier_sigma:
        loo, loo_var, _ = _local_quadratic(y, conf, seg, _OUTLIER_BANDWIDTH, exclude_centre=True)
        spread = np.sqrt(var_noise * (1.0 / np.maximum(conf, _MIN_CONFIDENCE) + loo_var))
        miss = np.linalg.norm(y - loo, axis=-1)
        outlier = present & np.isfinite(loo_var) & (miss > outlier_sigma * spread)
        conf = np.where(outlier, 0.0, conf)

    result = y.copy()
    alive = np.ones(present.shape, dtype=bool)
    for j, h in enumerate(sorted(strength * np.asarray(DEFAULT_BANDWIDTHS))):
        est, var, lever = _local_quadratic(y, conf, seg, h, widen_at_ends=True)
        if j == 0:
            # The narrowest fit nearly interpolates: always taken (it also fills in
            # outliers from their neighbours); wider fits must earn their place.
            result = np.where(np.isfinite(var)[..., None], est, y)
            continue
        # Expected squared residual of a linear smoother, per coordinate, over sigma^2:
        # 1/c - 2 * lever + var. Points it nearly interpolates carry no information.
        expected = np.where(conf > 0, 1.0 / np.maximum(conf, _MIN_CONFIDENCE) - 2.0 * lever + var, 0.0)
        use = (conf > 0) & (expected > 0.05)
        ratio = np.where(use, np.sum((y - est) ** 2, axis=-1) / (2.0 * var_noise * np.maximum(expected, 0.05)), 0.0)
        fit, count = _window_mean(ratio, use, seg, _FIT_WINDOW)
        alive &= ((count == 0) | (fit <= motion_tolerance)) & np.isfinite(var)
        result = np.where(alive[..., None], est, result)
    return np.where(present[..., None], result, y)


def _needs_tracking(frames: Sequence[FramePose]) -> bool:
    for frame in frames:
        ids = [p.track_id for p in frame.people]
        if any(i is None for i in ids) or len(set(ids)) != len(ids):
            return True
    return False


def context_length(strength: float) -> int:
    """Frames of context a batch needs from the previous one at this strength."""
    # The reach of the widest kernel (twice as wide at the end of a run), plus
    # the window over which its residuals are judged.
    return int(np.ceil(6.0 * strength * max(DEFAULT_BANDWIDTHS))) + _FIT_WINDOW + 2


def smooth(
    frames: Sequence[FramePose],
    *,
    strength: float = 1.0,
    threshold: float = SCORE_THRESHOLD,
    motion_tolerance: float = 2.0,
    outlier_sigma: Optional[float] = 6.0,
    state: Optional[SmootherState] = None,
) -> list[FramePose]:
    """Smoothed copies of ``frames`` (the input is not changed).

    ``strength`` scales the kernel widths (0 = off; 1 = widest kernel of
    3.3 frames standard deviation; 2 = twice as wide). ``motion_tolerance``
    is how much larger than the noise explains (mean squared residual over
    its expected value) a fit's residuals may be before a narrower fit is
    used: smaller follows fast motion more eagerly, larger smooths more.
    ``outlier_sigma`` is how far (in standard deviations of its neighbours'
    prediction) a point may be before it is ignored as an outlier; ``None``
    or 0 turns that off.
    People without consistent track ids (``None``, or an id twice in a frame)
    get ids from :func:`dwpose_core.temporal.track` first, on the copies.
    Pass the same ``state`` to consecutive batches of one clip.
    """
    if strength < 0:
        raise ValueError(f"strength must be >= 0 (0 = off), got {strength}")
    if motion_tolerance <= 0:
        raise ValueError(f"motion_tolerance must be > 0, got {motion_tolerance}")
    out = [f.copy() for f in frames]
    if strength == 0 or not out:
        return out
    if _needs_tracking(out):
        tracker = track(out, state.tracker if state is not None else None)
        if state is not None:
            state.tracker = tracker

    tails = state.tails if state is not None else {}
    n_ctx = state.tail_length if state is not None else 0
    n_t = n_ctx + len(out)
    ids = set(tails)
    for frame in out:
        ids.update(p.track_id for p in frame.people)

    noise_hists = state.noise if state is not None else {}
    new_tails: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    new_noise: dict[int, np.ndarray] = {}
    keep = min(context_length(strength), n_t)
    for tid in sorted(ids):
        y = np.zeros((n_t, NUM_KEYPOINTS, 2))
        sc = np.zeros((n_t, NUM_KEYPOINTS))
        if tid in tails:
            y[:n_ctx], sc[:n_ctx] = tails[tid]
        owners = []
        for i, frame in enumerate(out):
            for person in frame.people:
                if person.track_id == tid:
                    y[n_ctx + i] = person.keypoints
                    sc[n_ctx + i] = person.scores
                    owners.append((n_ctx + i, person))
        # The noise level comes from every frame of the track so far, so a batch
        # is smoothed as it would have been inside the whole clip.
        hist = _d2_histogram(y, _segments(sc >= threshold), first=max(n_ctx - 2, 0))
        if tid in noise_hists:
            hist = hist + noise_hists[tid]
        new_noise[tid] = hist
        if owners:
            smoothed = smooth_trajectories(
                y, sc, strength=strength, threshold=threshold,
                motion_tolerance=motion_tolerance, outlier_sigma=outlier_sigma,
                noise=_noise_sigma(hist),
            )
            for t, person in owners:
                person.keypoints = smoothed[t].astype(np.float32)
        if np.any(sc[n_t - keep:] >= threshold):
            # Only tracks still in view travel on (with their noise histogram).
            new_tails[tid] = (y[n_t - keep:].copy(), sc[n_t - keep:].copy())
        else:
            new_noise.pop(tid, None)
    if state is not None:
        state.tails = new_tails
        state.tail_length = keep
        state.noise = new_noise
    return out
