"""An input file's frames, in chunks, optionally decoded ahead in a background thread.

``FrameSource(path, kind)`` yields lists of uint8 RGB frames (one list for an image; chunks of
``chunk`` frames for a video) and knows the video's frame rate. ``read_ahead()`` starts decoding in a
thread while the caller is still busy with the previous input; at most ``ahead`` chunks are held, so
memory stays bounded whatever the clip's length. Errors while decoding are raised where the chunks
are consumed, exactly as a synchronous read would raise them.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import InputError

__all__ = ["FrameSource", "VIDEO_CHUNK", "VideoReadError"]

VIDEO_CHUNK = 32  # frames read and annotated at once
_END = object()


class VideoReadError(InputError):
    """A video file that cannot be opened or has no readable frame; exit code 1 for that input."""


class FrameSource:
    def __init__(self, path: Path, kind: str, chunk: int = VIDEO_CHUNK, ahead: int = 1):
        self.path = Path(path)
        self.kind = kind
        self.chunk = chunk
        self.ahead = max(1, ahead)
        self._capture = None
        self._fps: Optional[float] = None
        self._queue: Optional[queue.Queue] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None  # opening failed during read_ahead()

    # ------------------------------------------------------------------ reading
    def _open(self) -> None:
        if self.kind == "video" and self._capture is None:
            import cv2

            capture = cv2.VideoCapture(str(self.path))
            if not capture.isOpened():
                capture.release()
                raise VideoReadError(f"OpenCV cannot open {self.path} as a video")
            self._capture = capture
            self._fps = capture.get(cv2.CAP_PROP_FPS) or 25.0

    @property
    def fps(self) -> float:
        if self._error is not None:
            raise self._error
        self._open()
        return self._fps or 25.0

    def _read(self) -> Iterator[list[np.ndarray]]:
        if self.kind == "image":
            from .images import read_image

            yield [read_image(self.path)]
            return
        import cv2

        self._open()
        while not self._stop.is_set():
            frames = []
            while len(frames) < self.chunk:
                ok, frame = self._capture.read()
                if not ok:
                    break
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if not frames:
                return
            yield frames
            if len(frames) < self.chunk:
                return

    # ------------------------------------------------------------------ ahead
    def read_ahead(self) -> "FrameSource":
        """Start decoding in a background thread (idempotent). The video is opened here, in the
        caller's thread, so that its frame rate is known without waiting for the reader."""
        if self._queue is None and self._error is None:
            try:
                self._open()
            except BaseException as exc:  # noqa: BLE001 - raised where the frames are asked for
                self._error = exc
                return self
            self._queue = queue.Queue(maxsize=self.ahead)
            self._thread = threading.Thread(target=self._produce, name=f"dwpose-read:{self.path.name}",
                                            daemon=True)
            self._thread.start()
        return self

    def _produce(self) -> None:
        try:
            for frames in self._read():
                if not self._put(frames):
                    return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def chunks(self) -> Iterator[list[np.ndarray]]:
        if self._error is not None:
            raise self._error
        if self._queue is None:
            yield from self._read()
            return
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
