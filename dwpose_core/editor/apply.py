"""Hand edits of a pose clip, kept as data and re-applied to whatever poses come in.

The pose editor (web/editor/) writes an *edit document*; :func:`apply_edits` applies it to
FramePose lists (:func:`apply_to_pose_keypoint` to POSE_KEYPOINT). web/editor/model.js
implements the same rules for display; tests check that both agree. The document::

    {"version": 1,
     "added": {"a1": {"base": [[x, y], ... 133]}},          # people added by hand (canvas px)
     "keys": {"<frame>": {"<person>": {                      # key frames
         "del": 0 | 1,          # person deleted
         "lr": 0 | 1 | 2,       # 1: left and right labels swapped; 2: mirrored (reflected + swapped)
         "pts": {"<point>": {"d": [dx, dy]} | {"p": [x, y]} | {"off": 1}}}}}}

A person is ``t<track_id>`` when it has a track id, else ``i<index in the frame>``, or ``a<n>``
for an added one, so an edit stays on the same person and point when the input changes.
A point edit is a change ``d`` of the detected point (after ``lr``), an absolute position
``p`` (used where the detected point is absent) or ``off`` (marked missing).

Key frames of one person's point are interpolated, frame by frame:

- at a key frame, its state; before the first or after the last key of that point: no edit;
- between two keys: if the earlier is ``off``, off; if the later is ``off``, the earlier's
  state is held; two changes ``d``: the detected point plus the linearly interpolated change
  (a point the detector lost stays lost) — so the detected motion is kept; otherwise the
  positions the two keys give are interpolated;
- ``del`` and ``lr`` hold the earlier key's value between two keys. Added people exist only
  where a key says ``del: 0`` (and between two such keys); their base pose does not move.

Reading and writing the document lives in :mod:`dwpose_core.editor.document` (re-exported here).
"""
from __future__ import annotations

import bisect
import json
from typing import Any, Optional, Sequence, Union

import numpy as np

from .. import skeleton as sk
from .document import EditError, dump_edits, empty_edits, key_frames, parse_edits  # noqa: F401
from .tables import MIRROR
from ..types import FramePose, Person

__all__ = ["EditError", "parse_edits", "dump_edits", "person_key", "apply_edits", "apply_to_pose_keypoint",
           "apply_to_range", "reset", "key_frames"]

_MIRROR = np.asarray(MIRROR)


def person_key(person: Person, index: int) -> str:
    return f"t{int(person.track_id)}" if person.track_id is not None else f"i{index}"


# ---------------------------------------------------------------------------- applying

class _Tracks:
    """Per person: sorted keys of ``del``, ``lr`` and of every edited point."""

    def __init__(self, doc: dict):
        self.attr: dict[tuple[str, str], list] = {}
        self.points: dict[tuple[str, int], list] = {}
        for frame in sorted(doc["keys"], key=int):
            for pid, edit in doc["keys"][frame].items():
                for name in ("del", "lr"):
                    if name in edit:
                        self.attr.setdefault((pid, name), []).append((int(frame), edit[name]))
                for j, state in edit.get("pts", {}).items():
                    self.points.setdefault((pid, int(j)), []).append((int(frame), state))
        self.edited: dict[str, list[int]] = {}
        for pid, j in sorted(self.points):
            self.edited.setdefault(pid, []).append(j)

    def value(self, pid: str, name: str, f: int, default: int) -> int:
        keys = self.attr.get((pid, name))
        where = _locate(keys, f)
        if where is None:
            return default
        return where[1]  # the key's value, or the earlier key's (held)

    def point(self, pid: str, j: int, f: int):
        return _locate(self.points.get((pid, j)), f, both=True)


def _locate(keys: Optional[list], f: int, both: bool = False):
    """None outside the keys; ``(frame, state)`` at a key; between keys: the earlier key, or
    with ``both`` ``(ka, sa, kb, sb)``."""
    if not keys:
        return None
    frames = [k for k, _ in keys]
    i = bisect.bisect_left(frames, f)
    if i < len(frames) and frames[i] == f:
        return keys[i]
    if i == 0 or i == len(frames):
        return None
    return (keys[i - 1] + keys[i]) if both else keys[i - 1]


class _Clip:
    """The input clip with its people by id, and the bases the edits apply to."""

    def __init__(self, frames: Sequence[FramePose], doc: dict):
        self.frames, self.doc, self.tracks = frames, doc, _Tracks(doc)
        self.by_id = [{person_key(p, i): p for i, p in enumerate(f.people)} for f in frames]
        self.thr = sk.SCORE_THRESHOLD
        self._cache: dict = {}

    def base(self, pid: str, f: int):
        """(keypoints (133, 2), scores (133,)) the edits of ``pid`` apply to at frame f, or None."""
        if (pid, f) in self._cache:
            return self._cache[(pid, f)]
        result = None
        if pid in self.doc["added"]:
            result = (np.asarray(self.doc["added"][pid]["base"], np.float64), np.ones(sk.NUM_KEYPOINTS))
        elif 0 <= f < len(self.frames) and pid in self.by_id[f]:
            person = self.by_id[f][pid]
            kp, sc = person.keypoints.astype(np.float64), person.scores.astype(np.float64)
            lr = self.tracks.value(pid, "lr", f, 0)
            if lr:
                centre = _centre_x(kp, sc, person.box, self.thr)
                kp, sc = kp[_MIRROR].copy(), sc[_MIRROR].copy()
                if lr == 2:
                    kp[:, 0] = 2.0 * centre - kp[:, 0]
            result = (kp, sc)
        self._cache[(pid, f)] = result
        return result


def _centre_x(kp: np.ndarray, sc: np.ndarray, box: np.ndarray, thr: float) -> float:
    """Mirror axis: the middle of the present points' x range (else of the box)."""
    ok = np.isfinite(kp).all(axis=1) & (sc >= thr)
    if ok.any():
        xs = kp[ok, 0]
        return float((xs.min() + xs.max()) / 2.0)
    return float((box[0] + box[2]) / 2.0)


def _edit_point(clip: _Clip, pid: str, j: int, f: int, kp: np.ndarray, sc: np.ndarray) -> None:
    """Apply the point edits of ``pid``'s point j at frame f to kp/sc in place."""
    where = clip.tracks.point(pid, j, f)
    if where is None:
        return
    thr = clip.thr
    present = bool(np.isfinite(kp[j]).all() and sc[j] >= thr)

    def place(xy) -> None:
        if xy is None:
            return
        kp[j] = xy
        if not present:
            sc[j] = 1.0

    def at_key(k: int, state: dict):
        if "p" in state:
            return np.asarray(state["p"], np.float64)
        base = clip.base(pid, k)
        if base is None or not (base[1][j] >= thr and np.isfinite(base[0][j]).all()):
            return None
        return base[0][j] + np.asarray(state["d"], np.float64)

    if len(where) == 2:  # at a key
        _, state = where
        if "off" in state:
            kp[j], sc[j] = 0.0, 0.0
        elif "d" in state:
            if present:
                kp[j] = kp[j] + np.asarray(state["d"], np.float64)
        else:
            place(np.asarray(state["p"], np.float64))
        return
    ka, sa, kb, sb = where
    if "off" in sa:
        kp[j], sc[j] = 0.0, 0.0
        return
    if "off" in sb:  # hold the earlier key
        if "d" in sa:
            if present:
                kp[j] = kp[j] + np.asarray(sa["d"], np.float64)
        else:
            place(np.asarray(sa["p"], np.float64))
        return
    t = (f - ka) / (kb - ka)
    if "d" in sa and "d" in sb:
        if present:
            kp[j] = kp[j] + (1 - t) * np.asarray(sa["d"], np.float64) + t * np.asarray(sb["d"], np.float64)
        return
    a, b = at_key(ka, sa), at_key(kb, sb)
    if a is None and b is None:
        return
    a = b if a is None else a
    b = a if b is None else b
    place((1 - t) * a + t * b)


def _edited_person(clip: _Clip, pid: str, f: int, source: Optional[Person], track_id) -> Optional[Person]:
    default_del = 1 if pid in clip.doc["added"] else 0
    if clip.tracks.value(pid, "del", f, default_del):
        return None
    base = clip.base(pid, f)
    if base is None:
        return None
    kp, sc = base[0].copy(), base[1].copy()
    # the points whose edits apply at this frame (a key here, or between two keys)
    edited = [j for j in clip.tracks.edited.get(pid, ()) if clip.tracks.point(pid, j, f) is not None]
    for j in edited:
        _edit_point(clip, pid, j, f, kp, sc)
    parts = _edited_parts(source.parts if source is not None else sk.PART_NAMES, edited, kp, sc, clip.thr)
    if source is None:
        ok = sc >= clip.thr
        box = np.concatenate([kp[ok].min(axis=0), kp[ok].max(axis=0)]) if ok.any() else np.zeros(4)
        return Person(keypoints=kp, scores=sc, box=box, box_score=1.0, track_id=track_id, parts=parts)
    person = source.copy()
    person.keypoints = kp.astype(np.float32)
    person.scores = sc.astype(np.float32)
    person.parts = parts
    return person


def _edited_parts(parts, edited, kp: np.ndarray, sc: np.ndarray, thr: float) -> tuple:
    """The person's ``parts`` after the edits, saying what the points say.

    Only parts the edits touch change: a part with an edited point and no point present any more
    (all marked missing, e.g. both hands hidden with P) is no longer listed; a part that was not
    listed but now has a point an edit placed is listed again. Parts no edit touches keep their
    entry (an enabled part the detector did not find stays enabled)."""
    present = (sc >= thr) & np.isfinite(kp).all(axis=1)
    out = set(parts)
    for name in sk.PART_NAMES:
        points = sk.PART_RANGES[name]
        touched = [j for j in edited if j in points]
        if not touched:
            continue
        if not present[points.start:points.stop].any():
            out.discard(name)
        elif any(present[j] for j in touched):
            out.add(name)
    return tuple(name for name in sk.PART_NAMES if name in out)


def apply_edits(frames: Sequence[FramePose], edits: Union[None, str, dict]) -> list[FramePose]:
    """The frames with the edits applied (new objects; the input is not changed)."""
    doc = parse_edits(edits)
    clip = _Clip(list(frames), doc)
    tracked = [p.track_id for f in frames for p in f.people if p.track_id is not None]
    next_track = (max(tracked) + 1) if tracked else None
    added_ids = sorted(doc["added"], key=lambda a: (len(a), a))
    out = []
    for f, frame in enumerate(frames):
        copy = frame.copy()
        people = []
        for i, person in enumerate(frame.people):
            edited = _edited_person(clip, person_key(person, i), f, person, person.track_id)
            if edited is not None:
                people.append(edited)
        for n, aid in enumerate(added_ids):
            track = None if next_track is None else next_track + n
            edited = _edited_person(clip, aid, f, None, track)
            if edited is not None:
                people.append(edited)
        copy.people = people
        out.append(copy)
    return out


def apply_to_pose_keypoint(pose_keypoint: Any, edits: Union[None, str, dict], **export) -> list[dict]:
    """POSE_KEYPOINT in, POSE_KEYPOINT out, with the edits applied (``export``: to_pose_keypoint's options)."""
    from ..formats.pose_json import from_pose_keypoint, to_pose_keypoint

    return to_pose_keypoint(apply_edits(from_pose_keypoint(pose_keypoint), edits), **export)


# ---------------------------------------------------------------------------- editing the document

def apply_to_range(edits: Union[None, str, dict], frames: Sequence[FramePose], frame: int, start: int,
                   end: int) -> dict:
    """Carry frame ``frame``'s edit (key or interpolated) over ``start..end``: every person and
    point edited there gets that state at ``start`` and ``end`` and no key in between."""
    doc = parse_edits(edits)
    start, end = sorted((int(start), int(end)))
    clip = _Clip(list(frames), doc)
    states: dict[str, dict] = {}
    pids = {pid for pid, _ in clip.tracks.attr} | {pid for pid, _ in clip.tracks.points}
    for pid in sorted(pids):
        edit: dict[str, Any] = {}
        for name in ("del", "lr"):
            where = _locate(clip.tracks.attr.get((pid, name)), frame)
            if where is not None:
                edit[name] = where[1]
        points = {}
        for j in clip.tracks.edited.get(pid, ()):
            state = _state_at(clip, pid, j, frame)
            if state is not None:
                points[str(j)] = state
        if points:
            edit["pts"] = points
        if edit:
            states[pid] = edit
    keys = doc["keys"]
    for f in list(keys):
        if start <= int(f) <= end:
            for pid, edit in states.items():
                old = keys[f].get(pid)
                if old is None:
                    continue
                for name in ("del", "lr"):
                    if name in edit:
                        old.pop(name, None)
                for j in edit.get("pts", {}):
                    old.get("pts", {}).pop(j, None)
                if not old.get("pts"):
                    old.pop("pts", None)
                if not old:
                    del keys[f][pid]
            if not keys[f]:
                del keys[f]
    for f in {start, end}:
        slot = keys.setdefault(str(f), {})
        for pid, edit in states.items():
            target = slot.setdefault(pid, {})
            target.update({k: v for k, v in edit.items() if k != "pts"})
            if "pts" in edit:
                target.setdefault("pts", {}).update(json.loads(json.dumps(edit["pts"])))
    return parse_edits(doc)


def _state_at(clip: _Clip, pid: str, j: int, f: int) -> Optional[dict]:
    """A point's edit state at frame f as one key (an interpolated state made explicit)."""
    where = clip.tracks.point(pid, j, f)
    if where is None:
        return None
    if len(where) == 2:
        return dict(where[1])
    ka, sa, kb, sb = where
    if "off" in sa or "off" in sb:
        return dict(sa)
    t = (f - ka) / (kb - ka)
    if "d" in sa and "d" in sb:
        return {"d": [float((1 - t) * a + t * b) for a, b in zip(sa["d"], sb["d"])]}
    base = clip.base(pid, f)
    if base is None:
        return dict(sa)
    kp, sc = base[0].copy(), base[1].copy()
    _edit_point(clip, pid, j, f, kp, sc)
    return {"p": [float(kp[j, 0]), float(kp[j, 1])]}


def reset(edits: Union[None, str, dict], frame: Optional[int] = None, person: Optional[str] = None) -> dict:
    """Clear edits: all of them; or those of one key frame; or one person's (at ``frame`` or everywhere)."""
    doc = parse_edits(edits)
    if frame is None and person is None:
        return empty_edits()
    for f in list(doc["keys"]):
        if frame is not None and int(f) != int(frame):
            continue
        if person is None:
            del doc["keys"][f]
        else:
            doc["keys"][f].pop(person, None)
            if not doc["keys"][f]:
                del doc["keys"][f]
    if person is not None and frame is None:
        doc["added"].pop(person, None)
    return doc
