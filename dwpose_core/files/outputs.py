"""Files written so that nothing half-done ever sits under a final name.

Every writer puts its bytes under a temporary name in the destination folder (so the final
rename is atomic on one file system), then renames; on any error (a full disk, Ctrl-C) the
temporary file is removed and the final name is untouched. Files follow the user's umask.

- :func:`write_bytes` / :func:`write_image`: one call, one file.
- :class:`JsonFramesWriter`: a POSE_KEYPOINT list written frame by frame (bounded memory on long
  videos); :meth:`close` publishes it, :meth:`abandon` keeps what was written as an *incomplete*
  file (``<name>.incomplete.json``) so the frames already done are never lost.
- :class:`VideoFileWriter`: frames to an ``.mp4`` (H.264 when PyAV or imageio-ffmpeg is installed,
  else OpenCV's mp4v) under a temporary name, renamed on success only.
- Temporary names carry the writer's PID (``.<name>.<pid>.<random><suffix>``), so
  :func:`remove_stale_temporaries` removes what a killed run left and never a live run's files.
- :func:`probe_writable`: is a folder writable, before any model loads.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import tempfile
import threading
from fractions import Fraction
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import DWPoseError

__all__ = ["write_bytes", "write_image", "JsonFramesWriter", "VideoFileWriter", "probe_writable",
           "incomplete_path", "OutputError", "remove_stale_temporaries", "video_encoder", "H264_HINT"]

log = logging.getLogger("dwpose")

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
    """A new temporary file beside ``path``: ``.<name>.<pid>.<random><suffix>`` (the PID lets a later
    run tell a dead process's leftovers from a live one's, see :func:`remove_stale_temporaries`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=suffix, dir=path.parent)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or a platform that cannot tell: keep its files
    return True


def remove_stale_temporaries(target: PathLike) -> list[Path]:
    """Delete the temporary files that a killed process left for ``target`` (named
    ``.<name>.<pid>.<random><suffix>`` by this module's writers); those of a live process, this one
    included, are kept. Returns the files removed."""
    target = Path(target)
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        pid, _, rest = name[len(prefix):].partition(".")
        if not pid.isdigit() or len(rest) < 8 or _pid_alive(int(pid)):
            continue
        try:
            os.unlink(target.parent / name)
            removed.append(target.parent / name)
        except OSError:
            pass
    return removed


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


@contextlib.contextmanager
def _interrupts_deferred():
    """A Ctrl-C (SIGINT) that lands while a document is being closed is acted on right after, so it
    cannot stop the last steps half-way. Python runs signal handlers in the main thread only; in
    another thread, or where no handler can be set, this does nothing (then :meth:`_finish`'s
    repeat covers the case)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)  # the usual handler: KeyboardInterrupt, now


class JsonFramesWriter:
    """Write a JSON list frame by frame; publish it whole, or keep it as incomplete.

    The temporary file always holds ``[`` and whole frames up to a known length (each frame goes in
    one ``write`` and counts only once that returned); closing cuts the file to that length, adds
    ``]`` and renames it, so the published document is valid JSON whatever instant a Ctrl-C lands.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self._fd: Optional[int] = None
        self._tmp: Optional[str] = None
        try:
            self._fd, self._tmp = _temp(self.path)
            self._write(b"[")
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._state = (0, 1)  # (frames, bytes) known whole; one tuple, so both change at once

    @property
    def count(self) -> int:
        return self._state[0]

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def write(self, frames) -> None:
        for frame in frames:
            count, length = self._state
            text = json.dumps(frame, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            piece = ("," if count else "").encode("utf-8") + text.encode("utf-8")
            try:
                self._write(piece)
            except OSError as exc:
                raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
            self._state = (count + 1, length + len(piece))

    def _finish(self, target: Path) -> Path:
        interrupted: Optional[BaseException] = None
        for _attempt in range(3):  # a signal already on its way when the hold began lands here once
            try:
                with _interrupts_deferred():
                    self._finish_once(target)
                break
            except KeyboardInterrupt as exc:
                interrupted = exc
        if interrupted is not None:
            raise interrupted
        return target

    def _finish_once(self, target: Path) -> None:
        """Cut to the whole frames, close the list, publish; may be repeated after an interruption."""
        if self._tmp is None:
            return  # done already
        _count, length = self._state
        try:
            os.ftruncate(self._fd, length)
            os.lseek(self._fd, length, os.SEEK_SET)
            self._write(b"]")
            os.fsync(self._fd)
            os.chmod(self._tmp, _mode())
            os.replace(self._tmp, target)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        self._tmp = None
        self._close_fd()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

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
            self._close_fd()
        finally:
            if self._tmp is not None:
                _discard(self._tmp)
                self._tmp = None


# ------------------------------------------------------------------------------------------ video

H264_HINT = "pip install av (or imageio-ffmpeg) for H.264 videos that browsers and ComfyUI play"
_warned_mp4v = False


def video_encoder() -> str:
    """Which encoder :class:`VideoFileWriter` uses here: ``"pyav"`` (H.264 through PyAV, which
    ComfyUI installs), ``"imageio-ffmpeg"`` (H.264 through its bundled ffmpeg) or ``"mp4v"``
    (OpenCV's MPEG-4 Part 2, which browsers do not play). ``DWPOSE_VIDEO_ENCODER`` forces one."""
    forced = os.environ.get("DWPOSE_VIDEO_ENCODER", "").strip().lower()
    if forced in ("pyav", "imageio-ffmpeg", "mp4v"):
        return forced
    import importlib.util

    if importlib.util.find_spec("av") is not None and _pyav_has_h264():
        return "pyav"
    if importlib.util.find_spec("imageio_ffmpeg") is not None:
        return "imageio-ffmpeg"
    return "mp4v"


def _pyav_has_h264() -> bool:
    try:
        import av

        return "libx264" in av.codecs_available
    except Exception:  # noqa: BLE001 - a broken PyAV install: fall back to the next encoder
        return False


def _even(rgb: np.ndarray) -> np.ndarray:
    """yuv420p needs even sizes: an odd width or height gets one black column / row."""
    h, w = rgb.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return np.ascontiguousarray(rgb)
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)))


def _rate(fps: float) -> Fraction:
    """The frame rate as an exact fraction (29.97 -> 30000/1001, 12.5 -> 25/2)."""
    for denominator in (1, 1001, 2, 4, 100, 1000):
        numerator = fps * denominator
        if abs(numerator - round(numerator)) < 1e-6 * denominator:
            return Fraction(round(numerator), denominator)
    return Fraction(fps).limit_denominator(100_000)


class _PyAVEncoder:
    def __init__(self, tmp: str, size: tuple[int, int], fps: float):
        import av

        self._container = av.open(tmp, mode="w", format="mp4")
        try:
            self._stream = self._container.add_stream("libx264", rate=_rate(fps))
            self._stream.width, self._stream.height = size
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": "18", "preset": "fast"}
        except BaseException:
            self._container.close()
            raise
        self._pts = 0

    def write(self, rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self._pts
        self._pts += 1
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()

    def abort(self) -> None:
        self._container.close()


class _FfmpegEncoder:
    """imageio-ffmpeg's bundled ffmpeg binary, fed raw RGB frames on its standard input."""

    def __init__(self, tmp: str, size: tuple[int, int], fps: float):
        import imageio_ffmpeg

        self._gen = imageio_ffmpeg.write_frames(
            tmp, size, fps=float(_rate(fps)), codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=None, bitrate=None, macro_block_size=1, output_params=["-crf", "18", "-preset", "fast", "-f", "mp4"],
            ffmpeg_log_level="error")
        self._gen.send(None)

    def write(self, rgb: np.ndarray) -> None:
        self._gen.send(rgb)

    def close(self) -> None:
        self._gen.close()

    def abort(self) -> None:
        self._gen.close()


class _OpenCVEncoder:
    def __init__(self, tmp: str, size: tuple[int, int], fps: float):
        import cv2

        self._writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            self._writer.release()
            raise OSError("OpenCV could not open a video writer")

    def write(self, rgb: np.ndarray) -> None:
        import cv2

        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()

    abort = close


_ENCODERS = {"pyav": _PyAVEncoder, "imageio-ffmpeg": _FfmpegEncoder, "mp4v": _OpenCVEncoder}


class VideoFileWriter:
    """RGB frames to an ``.mp4``, one at a time (memory stays flat whatever the clip's length),
    under a temporary name; renamed into place by close(). H.264 (yuv420p; an odd width or height
    gets one black column / row) when PyAV or imageio-ffmpeg is installed, else OpenCV's ``mp4v``
    with one warning line saying how to get H.264 (see :func:`video_encoder`). Frame i is shown at
    i / fps exactly. (libx264's bytes were seen to differ between two encodes of the same pictures in
    one process; the decoded pictures did not. Compare videos by their frames, not their bytes.)"""

    def __init__(self, path: PathLike, fps: float, encoder: Optional[str] = None):
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.encoder = encoder or video_encoder()
        self._writer = None
        self._tmp: Optional[str] = None
        self._size: Optional[tuple[int, int]] = None
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        rgb = np.asarray(rgb, dtype=np.uint8)
        if self.encoder != "mp4v":
            rgb = _even(rgb)
        size = (rgb.shape[1], rgb.shape[0])
        if self._writer is None:
            self._open(size)
        elif size != self._size:
            raise OutputError(f"cannot write {self.path}: frame {self.count} is {size[0]}x{size[1]}, "
                              f"the video is {self._size[0]}x{self._size[1]}")
        try:
            self._writer.write(np.ascontiguousarray(rgb))
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.count += 1

    def _open(self, size: tuple[int, int]) -> None:
        global _warned_mp4v
        try:
            fd, self._tmp = _temp(self.path, suffix=self.path.suffix or ".mp4")
            os.close(fd)
            self._writer = _ENCODERS[self.encoder](self._tmp, size, self.fps)
        except BaseException as exc:
            self.discard()
            if isinstance(exc, (OSError, RuntimeError, ValueError)):
                raise OutputError(f"cannot write {self.path}: {exc}") from exc
            raise
        self._size = size
        if self.encoder == "mp4v" and not _warned_mp4v:
            _warned_mp4v = True
            log.warning("warning: writing MPEG-4 Part 2 (mp4v) videos, which browsers and ComfyUI's preview "
                        "do not play; %s", H264_HINT)

    def close(self) -> Optional[Path]:
        if self._writer is None:
            return None
        writer, self._writer = self._writer, None
        try:
            writer.close()
            if os.path.getsize(self._tmp) == 0:
                raise OutputError(f"cannot write {self.path}: the video came out empty (disk full?)")
            _publish(self._tmp, self.path)
        except BaseException as exc:
            _discard(self._tmp)
            self._tmp = None
            if isinstance(exc, (OutputError, KeyboardInterrupt)) or not isinstance(exc, Exception):
                raise
            raise OutputError(f"cannot write {self.path}: {getattr(exc, 'strerror', None) or exc}") from exc
        self._tmp = None
        return self.path

    def discard(self) -> None:
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                writer.abort()
        except Exception:  # noqa: BLE001 - the file is removed anyway
            pass
        finally:
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
