"""One input file -> its output files, through the one job (:class:`~dwpose_core.annotate.PoseAnnotator`).

Used by the command line and the batch command, so both write exactly the same files:

- image ``<base>``: ``<base>.json`` (POSE_KEYPOINT, one frame) and ``<base>_pose.png``; both are
  encoded first and then written, so they appear together or not at all;
- video: ``<base>.json`` (one entry per frame, written as each frame is done) and
  ``<base>_pose.mp4``; an interrupted or failing video keeps the frames done in
  ``<base>.incomplete.json`` and never leaves a video under the final name;
- with face crops: ``<base>_face.png`` / ``<base>_face.mp4`` (the first chosen person).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .files import outputs
from .annotate import ClipState, PoseAnnotator
from .files.frame_source import VIDEO_CHUNK, FrameSource, VideoReadError

__all__ = ["FileResult", "annotate_image", "annotate_video", "annotate_file", "output_paths", "partial_result",
           "VIDEO_CHUNK"]



@dataclass
class FileResult:
    written: list[Path] = field(default_factory=list)
    frames: int = 0
    people: list[int] = field(default_factory=list)  # people per frame


def output_paths(out: Path, base: Path, kind: str) -> dict[str, Path]:
    stem = out / base
    picture = ".png" if kind == "image" else ".mp4"
    return {"json": stem.with_name(stem.name + ".json"),
            "pose": stem.with_name(stem.name + "_pose" + picture),
            "face": stem.with_name(stem.name + "_face" + picture)}


def annotate_file(annotator: PoseAnnotator, path: Path, kind: str, out: Path, base: Path,
                  progress: Optional[Callable[[int], None]] = None,
                  source: Optional[FrameSource] = None) -> FileResult:
    """``source``: the input's frames when the caller already started reading them (read-ahead)."""
    if kind == "image":
        return annotate_image(annotator, path, out, base, source=source)
    return annotate_video(annotator, path, out, base, progress=progress, source=source)


def _encode_png(rgb: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise outputs.OutputError("cannot encode a PNG picture")
    return data.tobytes()


def annotate_image(annotator: PoseAnnotator, path: Path, out: Path, base: Path,
                   source: Optional[FrameSource] = None) -> FileResult:
    _remove_stale_temporaries(output_paths(out, base, "image"))
    with source or FrameSource(path, "image") as frames:
        (frame,) = next(iter(frames.chunks()))
    result = annotator([frame])
    names = output_paths(out, base, "image")
    pending: list[tuple[Path, bytes]] = []
    if result.pictures is not None:
        pending.append((names["pose"], _encode_png(result.pictures[0])))
    if result.face_crops is not None:
        pending.append((names["face"], _encode_png(result.face_crops[0][0])))
    text = json.dumps(result.pose_keypoint, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    pending.append((names["json"], text.encode("utf-8")))
    written: list[Path] = []
    try:
        for target, data in pending:
            written.append(outputs.write_bytes(target, data))
    except BaseException:
        for done in written:  # all or nothing
            done.unlink(missing_ok=True)
        raise
    return FileResult(written, 1, [len(result.poses[0].people)])


def annotate_video(annotator: PoseAnnotator, path: Path, out: Path, base: Path,
                   progress: Optional[Callable[[int], None]] = None, chunk: int = VIDEO_CHUNK,
                   source: Optional[FrameSource] = None) -> FileResult:
    """Frames are decoded ``chunk`` at a time (ahead, when ``source`` reads ahead) and written one at a
    time, so an interruption keeps every frame finished before it.

    They are annotated one at a time, except with tracking (and so smoothing) on: a tracked or smoothed
    frame depends on the frames around it (track selection ranks whole tracks; the zero-lag smoother
    reads the frames after it), so there a whole chunk is annotated at once, exactly as one batch of
    the clip, and an interruption keeps the chunks finished before it."""
    names = output_paths(out, base, "video")
    _remove_stale_temporaries(names)
    source = source or FrameSource(path, "video", chunk)
    json_out = pose_out = face_out = None
    state, result = ClipState(), FileResult()
    try:
        fps = source.fps
        json_out = outputs.JsonFramesWriter(names["json"])
        pose_out = outputs.VideoFileWriter(names["pose"], fps) if annotator.options.draw else None
        face_out = outputs.VideoFileWriter(names["face"], fps) if annotator.options.face_crops else None
        step = len if annotator.options.tracks else (lambda _frames: 1)
        for frames in source.chunks():
            for start in range(0, len(frames), max(1, step(frames))):
                batch = frames[start:start + max(1, step(frames))]
                annotation = annotator(batch, state=state)
                for i in range(len(batch)):
                    json_out.write(annotation.pose_keypoint[i:i + 1])
                    if pose_out is not None and annotation.pictures:
                        pose_out.write(annotation.pictures[i])
                    if face_out is not None and annotation.face_crops is not None:
                        face_out.write(annotation.face_crops[0][i])  # (crops, boxes): this frame's crop
                    result.frames += 1
                    result.people.append(len(annotation.poses[i].people))
                    if progress is not None:
                        progress(1)
        if result.frames == 0:
            raise VideoReadError(f"{path} has no readable frame")
        for writer in (pose_out, face_out):
            if writer is not None:
                done = writer.close()
                if done is not None:
                    result.written.append(done)
        result.written.insert(0, json_out.close())  # last: a complete JSON means a complete input
    except BaseException as exc:
        kept, frames = None, 0
        if json_out is not None:  # first: the frames done are what matters most
            frames = json_out.count
            kept = json_out.abandon()
        for writer in (pose_out, face_out):
            if writer is not None:
                writer.discard()
        # The caller's message says where the frames done were kept (see partial_result).
        exc.dwpose_partial = (kept, frames if kept is not None else 0)
        raise
    finally:
        source.close()
    return result


def _remove_stale_temporaries(names: dict[str, Path]) -> None:
    """What a killed run left beside these outputs (never a live process's files)."""
    for target in (*names.values(), outputs.incomplete_path(names["json"])):
        outputs.remove_stale_temporaries(target)


def partial_result(exc: BaseException) -> tuple[Optional[Path], int]:
    """(incomplete JSON kept, frames in it) of a video that ended with ``exc``; (None, 0) otherwise."""
    return getattr(exc, "dwpose_partial", (None, 0))
