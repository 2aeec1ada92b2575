"""Files written so that nothing half-done ever sits under a final name.

Every writer puts its bytes under a temporary name in the destination folder (so the final
rename is atomic on one file system), then renames; on any error (a full disk, Ctrl-C) the
temporary file is removed and the final name is untouched. Files follow the user's umask.

- :func:`write_bytes` / :func:`write_image`: one call, one file.
- :class:`JsonFramesWriter`: a POSE_KEYPOINT list written frame by frame (bounded memory on long
  videos); :meth:`close` publishes it, :meth:`abandon` keeps what was written as an *incomplete*
  file (``<name>.incomplete.json``) so the frames already done are never lost.
- :class:`VideoFileWriter`: frames to an ``.mp4`` under a temporary name, renamed on success only.
- :func:`probe_writable`: is a folder writable, before any model loads.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import DWPoseError

__all__ = ["write_bytes", "write_image", "JsonFramesWriter", "VideoFileWriter", "probe_writable",
           "incomplete_path", "OutputError"]

PathLike = Union[str, os.PathLike]


class OutputError(DWPoseError, OSError):
    """An output could not be written; the message names the file."""


def _read_umask() -> int:
    """The process umask, read once when this module loads. Linux tells it without changing it;
    elsewhere it is set and restored here, once, before any writer thread exists."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # written files follow the user's umask


def _mode() -> int:
    return _FILE_MODE


def _temp(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _publish(tmp: str, path: Path) -> None:
    os.chmod(tmp, _mode())
    os.replace(tmp, path)


def write_bytes(path: PathLike, data: bytes) -> Path:
    path = Path(path)
    try:
        fd, tmp = _temp(path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        _discard(tmp)
        raise
    return path


def write_image(path: PathLike, rgb: np.ndarray) -> Path:
    """A uint8 RGB image, encoded by its suffix (PNG by default)."""
    import cv2

    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"cannot encode an image for {path}")
    return write_bytes(path, encoded.tobytes())


def incomplete_path(path: PathLike) -> Path:
    """Where the frames of an interrupted or failed video go: ``x.json`` -> ``x.incomplete.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.incomplete{path.suffix}")


class JsonFramesWriter:
    """Write a JSON list item by item; publish it whole, or keep it as incomplete."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        try:
            fd, self._tmp = _temp(self.path)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._fh = os.fdopen(fd, "w", encoding="utf-8")
        self._fh.write("[")
        self.count = 0

    def write(self, frames) -> None:
        try:
            for frame in frames:
                if self.count:
                    self._fh.write(",")
                self._fh.write(json.dumps(frame, ensure_ascii=False, allow_nan=False, separators=(",", ":")))
                self.count += 1
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def _finish(self, target: Path) -> Path:
        try:
            self._fh.write("]")
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            _publish(self._tmp, target)
        except OSError as exc:
            self._fh.close()
            _discard(self._tmp)
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return target

    def close(self) -> Path:
        """Publish under the final name (and remove an older incomplete file of it)."""
        target = self._finish(self.path)
        _discard(str(incomplete_path(self.path)))
        return target

    def abandon(self) -> Optional[Path]:
        """Keep the frames written so far as ``<stem>.incomplete.json``; None when there were none."""
        if self.count == 0:
            self.discard()
            return None
        return self._finish(incomplete_path(self.path))

    def discard(self) -> None:
        try:
            self._fh.close()
        finally:
            _discard(self._tmp)


class VideoFileWriter:
    """RGB frames to an mp4 (``mp4v``), created on the first frame; renamed into place by close()."""

    def __init__(self, path: PathLike, fps: float):
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self._writer = None
        self._tmp: Optional[str] = None
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            fd, self._tmp = _temp(self.path, suffix=self.path.suffix or ".mp4")
            os.close(fd)
            h, w = rgb.shape[:2]
            self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                self.discard()
                raise OutputError(f"cannot write {self.path}: OpenCV could not open a video writer")
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
        self.count += 1

    def close(self) -> Optional[Path]:
        if self._writer is None:
            return None
        self._writer.release()
        self._writer = None
        try:
            if os.path.getsize(self._tmp) == 0:
                raise OutputError(f"cannot write {self.path}: the video came out empty (disk full?)")
            _publish(self._tmp, self.path)
        except OSError as exc:
            _discard(self._tmp)
            if isinstance(exc, OutputError):
                raise
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        return self.path

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp is not None:
            _discard(self._tmp)
            self._tmp = None


def probe_writable(folder: PathLike) -> None:
    """Create ``folder`` and write (then remove) a small file in it; OutputError saying why not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".dwpose-write-probe.", dir=folder)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            _discard(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write to the output folder {folder}: {exc.strerror or exc}") from exc
