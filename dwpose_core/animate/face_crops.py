"""Face crops for Wan 2.2 Animate: per track and frame, a square crop of the face and its box.

The box rule, step by step (PROFILES.md "Face crops"; the first three steps are Wan's):

1. The bounding box of the face's present landmarks (the 68 points, score >= ``threshold``;
   at least ``min_points`` of them, else the frame has no face).
2. Its area grown by ``scale`` (default 1.3) keeping its aspect ratio: both sides x sqrt(scale).
   The extra width is split equally left and right; 3/4 of the extra height goes above the
   landmarks (forehead and hair) and 1/4 below.
3. Square: the side is the longer side of that box, centred on the box's centre (Wan resizes
   its box to 512 x 512 without keeping the aspect ratio; a square keeps the face undistorted).
4. Over time: the centre and the side are smoothed with the keypoints' zero-lag smoother
   (:func:`dwpose_core.temporal.smooth_trajectories`; ``smoothing`` is its strength, 0 = off),
   so the crop does not jitter.
5. Frames without a face take the track's nearest box in time (the earlier one on a tie);
   a track with no face at all gets a centred square of half the frame's short side.
6. Clipped to the frame: a square that crosses a border is shifted back inside (it stays
   square and keeps the whole face); a square larger than the frame's short side is shrunk to
   it. Boxes are whole pixels ``[x1, y1, x2, y2]`` (x2 - x1 = y2 - y1 = the side).
7. Each box is cut out and resized to ``size`` x ``size`` (area filter when shrinking,
   bilinear when enlarging).

Keypoints are in their canvas' pixels; when the images are another size the boxes are scaled
to the images. A frame never raises: a missing face only changes which box is used.

Long clips in consecutive batches: pass the same :class:`FaceCropState` to every call; it keeps
each track's last raw boxes (the smoother's context) and last box (the nearest-box fallback), so
a batch is cropped as it would have been inside the whole clip, up to the frames at its end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..skeleton import FACE, SCORE_THRESHOLD
from ..types import FramePose

__all__ = ["FaceTrack", "FaceCrops", "FaceCropState", "face_boxes", "face_crops", "crop_boxes", "wan_face_boxes",
           "DEFAULT_SIZE"]

DEFAULT_SIZE = 512
_FACE = np.arange(FACE.start, FACE.stop)


@dataclass
class FaceTrack:
    """One person's face over the clip."""

    track_id: Optional[int]
    boxes: np.ndarray  # (N, 4) float32, whole-pixel square boxes x1, y1, x2, y2 in image pixels
    found: np.ndarray  # (N,) bool: the frame had a face of this person (else a fallback box)
    crops: Optional[np.ndarray] = None  # (N, S, S, 3) uint8


@dataclass
class FaceCropState:
    """What :func:`face_boxes` / :func:`face_crops` carry from one batch of a clip to the next."""

    # track id -> (raw (n, 2, 2) centre and side rows, found (n,)) of the last frames seen.
    tails: dict = field(default_factory=dict)
    # track id -> the last (cx, cy, side) used, for a batch that starts without a face.
    last: dict = field(default_factory=dict)


@dataclass
class FaceCrops:
    """:func:`face_crops`' result: every chosen track, and the state for the next batch.

    ``crops`` / ``boxes`` / ``found`` are the first chosen track's (the CLI's ``--face-crops``)."""

    tracks: list
    state: FaceCropState

    @property
    def crops(self) -> np.ndarray:
        return self.tracks[0].crops

    @property
    def boxes(self) -> np.ndarray:
        return self.tracks[0].boxes

    @property
    def found(self) -> np.ndarray:
        return self.tracks[0].found


def wan_face_boxes(points: np.ndarray, present: np.ndarray, *, scale: float = 1.3, min_points: int = 5
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-2 for many frames at once: (N, 68, 2) landmarks + (N, 68) present -> (boxes (N, 4), found).

    Boxes are not clipped (that comes last); rows without a face are zeros.
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    points = np.asarray(points, np.float64)
    present = np.asarray(present, bool) & np.isfinite(points).all(-1)
    lo = np.where(present[..., None], points, np.inf).min(axis=-2)
    hi = np.where(present[..., None], points, -np.inf).max(axis=-2)
    found = present.sum(-1) >= max(int(min_points), 1)
    size = np.where(found[:, None], np.maximum(hi - lo, 1.0), 1.0)
    lo, hi = np.where(found[:, None], lo, 0.0), np.where(found[:, None], hi, 0.0)
    extra = size * (np.sqrt(scale) - 1.0)  # both sides x sqrt(scale): area x scale, same aspect
    x1, x2 = lo[:, 0] - extra[:, 0] / 2, hi[:, 0] + extra[:, 0] / 2
    y1, y2 = lo[:, 1] - extra[:, 1] * 0.75, hi[:, 1] + extra[:, 1] * 0.25
    boxes = np.stack([x1, y1, x2, y2], -1)
    return np.where(found[:, None], boxes, 0.0), found


def _nearest_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Rows where ``known`` is False take the nearest known row (the earlier one on a tie)."""
    t = np.arange(len(values))
    idx = np.where(known, t, -1)
    before = np.maximum.accumulate(idx)
    after = np.where(known, t, len(values))
    after = np.minimum.accumulate(after[::-1])[::-1]
    use_after = (before < 0) | ((after < len(values)) & (after - t < t - before))
    pick = np.where(use_after, after, before)
    return values[np.clip(pick, 0, len(values) - 1)]


def _place(cx, cy, side, width, height) -> np.ndarray:
    """Step 6: whole-pixel squares inside the frames."""
    short = np.minimum(width, height)
    side = np.clip(np.round(side), 1, short)
    x1 = np.clip(np.round(cx - side / 2), 0, width - side)
    y1 = np.clip(np.round(cy - side / 2), 0, height - side)
    return np.stack([x1, y1, x1 + side, y1 + side], -1).astype(np.float32)


def _frame_sizes(frames: Sequence[FramePose], image_sizes) -> tuple[np.ndarray, np.ndarray]:
    if image_sizes is None:
        sizes = np.array([(f.width, f.height) for f in frames], np.float64).reshape(-1, 2)
    else:
        sizes = np.asarray(image_sizes, np.float64).reshape(-1, 2)
        if len(sizes) == 1:
            sizes = np.repeat(sizes, len(frames), 0)
        if len(sizes) != len(frames):
            raise ValueError(f"{len(sizes)} image sizes for {len(frames)} pose frames")
    return sizes[:, 0], sizes[:, 1]


def face_boxes(frames: Sequence[FramePose], *, image_sizes=None, people: Optional[Sequence[Optional[int]]] = None,
               scale: float = 1.3, smoothing: float = 1.0, threshold: float = SCORE_THRESHOLD,
               min_points: int = 5, state: Optional[FaceCropState] = None) -> list[FaceTrack]:
    """Steps 1-6: one :class:`FaceTrack` per chosen track (without crops).

    ``image_sizes``: (W, H) of the images (one for all, or one per frame); default: the canvases.
    ``people``: track ids to keep, in that order (default: every track, in order of first
    appearance; a clip of single untracked people is one track with id None). ``state``: see
    the module text (updated in place).
    """
    from .retarget import track_groups
    from ..temporal import smooth_trajectories
    from ..temporal.smoothing import context_length

    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0 (0 = off), got {smoothing}")
    frames = [f.copy() for f in frames]
    n_t = len(frames)
    width, height = _frame_sizes(frames, image_sizes)
    canvas = np.array([(max(f.width, 1), max(f.height, 1)) for f in frames], np.float64).reshape(-1, 2)
    to_image = np.stack([width, height], -1) / canvas if n_t else np.zeros((0, 2))
    groups = track_groups(frames) if n_t else {}
    if people is None or all(k is None for k in groups):  # untracked: the clip's one person
        chosen = list(groups) or [None]
    else:
        chosen = list(people)
        unknown = [p for p in chosen if p not in groups and (state is None or p not in state.last)]
        if unknown:
            known = sorted(k for k in groups if k is not None)
            raise ValueError(f"no track with id {unknown[0]}; the clip has tracks {known}")
    keep = context_length(max(smoothing, 1.0))
    out = []
    for key in chosen:
        points = np.zeros((n_t, len(_FACE), 2))
        present = np.zeros((n_t, len(_FACE)), bool)
        for t, i in groups.get(key, []):
            person = frames[t].people[i]
            points[t] = person.keypoints[_FACE] * to_image[t]
            present[t] = person.scores[_FACE] >= threshold
        raw, found = wan_face_boxes(points, present, scale=scale, min_points=min_points)
        side = np.max(raw[:, 2:] - raw[:, :2], axis=-1)
        rows = np.stack([(raw[:, :2] + raw[:, 2:]) / 2, np.stack([side, side], -1)], 1)  # (N, 2, 2)
        ctx_rows, ctx_found = (state.tails.get(key, (np.zeros((0, 2, 2)), np.zeros(0, bool)))
                               if state is not None else (np.zeros((0, 2, 2)), np.zeros(0, bool)))
        all_rows, all_found = np.concatenate([ctx_rows, rows]), np.concatenate([ctx_found, found])
        n_ctx = len(ctx_rows)
        if all_found.any():
            track = all_rows
            if smoothing > 0 and all_found.sum() > 2:
                conf = np.repeat(all_found[:, None].astype(np.float64), 2, 1)
                track = smooth_trajectories(all_rows, conf, strength=smoothing, threshold=0.5)
            track = _nearest_fill(track, all_found)[n_ctx:]
            cx, cy, side = track[:, 0, 0], track[:, 0, 1], track[:, 1, 0]
        elif state is not None and key in state.last:
            cx, cy, side = (np.full(n_t, v) for v in state.last[key])
        else:
            cx, cy, side = width / 2, height / 2, np.minimum(width, height) / 2
        if state is not None:
            state.tails[key] = (all_rows[-keep:].copy(), all_found[-keep:].copy())
            if n_t:
                state.last[key] = (float(cx[-1]), float(cy[-1]), float(side[-1]))
        out.append(FaceTrack(key, _place(cx, cy, side, width, height), found))
    return out


def crop_boxes(images, boxes: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Cut ``boxes`` (N, 4; whole pixels, inside the images) out of ``images`` -> (N, size, size, 3) uint8."""
    import cv2

    size = int(size)
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(images) != len(boxes):
        raise ValueError(f"{len(images)} images for {len(boxes)} boxes")
    out = np.empty((len(boxes), size, size, 3), np.uint8)
    for t, (image, box) in enumerate(zip(images, boxes)):
        h, w = image.shape[:2]
        x1, y1 = int(np.clip(box[0], 0, w - 1)), int(np.clip(box[1], 0, h - 1))
        x2, y2 = int(np.clip(box[2], x1 + 1, w)), int(np.clip(box[3], y1 + 1, h))
        patch = image[y1:y2, x1:x2]
        shrink = patch.shape[0] > size or patch.shape[1] > size
        out[t] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out


def face_crops(images, frames: Sequence[FramePose], *, size: int = DEFAULT_SIZE,
               people: Optional[Sequence[Optional[int]]] = None, scale: float = 1.3, smoothing: float = 1.0,
               threshold: float = SCORE_THRESHOLD, min_points: int = 5,
               state: Optional[FaceCropState] = None) -> FaceCrops:
    """Face crops of every chosen track: :func:`face_boxes` on the images' sizes, then :func:`crop_boxes`.

    ``images``: (N, H, W, 3) uint8 RGB or a list of N such frames (other dtypes follow
    :func:`dwpose_core.files.images.to_rgb_uint8`), one per pose frame. ``state``: pass the same
    :class:`FaceCropState` with consecutive batches of one clip (one is made when omitted;
    it comes back as ``result.state``).
    """
    from ..files.images import to_rgb_uint8

    if isinstance(images, np.ndarray) and images.ndim == 4 and images.dtype == np.uint8 and images.shape[-1] == 3:
        frames_rgb = images
    else:
        frames_rgb = [to_rgb_uint8(im) for im in images]
    if len(frames_rgb) != len(frames):
        raise ValueError(f"{len(frames_rgb)} images for {len(frames)} pose frames; give one pose frame per image")
    state = state if state is not None else FaceCropState()
    sizes = [(im.shape[1], im.shape[0]) for im in frames_rgb]
    tracks = face_boxes(frames, image_sizes=sizes or None, people=people, scale=scale, smoothing=smoothing,
                        threshold=threshold, min_points=min_points, state=state)
    for tr in tracks:
        tr.crops = crop_boxes(frames_rgb, tr.boxes, size)
    return FaceCrops(tracks, state)
