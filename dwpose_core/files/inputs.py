"""Which files a run works on, whether each can be read, and where its outputs go.

- Folders are searched recursively for images and videos (by suffix); the output folder itself is
  never searched. A file given by name is taken whatever its suffix says, and checked.
- Every candidate is checked before any model loads: it must be a regular file (a folder named
  ``x.png``, a dangling symlink, a FIFO or a device is skipped without being opened), not empty, and
  look like what its suffix says (image files by their signature bytes; videos by OpenCV opening them
  and reading a first frame), and an image must be within the pixel limit (``DWPOSE_MAX_PIXELS``,
  from its header). What fails is reported with the reason and the rest goes on; a wrong
  ``DWPOSE_MAX_PIXELS`` stops the run (:class:`~dwpose_core.files.images.PixelLimitSettingError`).
- Output names keep each input's folder structure below the folder it was found in; two inputs that
  would share a name (``a.png`` and ``a.jpg`` in one folder, or two ``a.png`` given from different
  folders) keep their extension in the name (``a.png.json``, ``a.jpg.json``), and any clash left gets
  ``-2``, ``-3``, ... in the order the inputs were given.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageTooLargeError, check_pixel_limit, header_size, max_pixels_limit

__all__ = ["InputFile", "Rejected", "collect_inputs", "check_input", "assign_output_names"]

# Signature bytes of the image formats OpenCV reads (offset, bytes).
_SIGNATURES = {
    ".png": [(0, b"\x89PNG\r\n\x1a\n")],
    ".jpg": [(0, b"\xff\xd8\xff")],
    ".jpeg": [(0, b"\xff\xd8\xff")],
    ".bmp": [(0, b"BM")],
    ".webp": [(0, b"RIFF"), (8, b"WEBP")],
    ".tif": [(0, b"II*\x00")],
    ".tiff": [(0, b"II*\x00")],
}
_TIFF_BIG_ENDIAN = b"MM\x00*"


@dataclass
class InputFile:
    path: Path
    kind: str  # "image" or "video"
    base: Path  # output name without suffix, relative to --out (e.g. sub/a)
    root: Optional[Path] = None  # the folder it was found in (None: given by name)


@dataclass
class Rejected:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def kind_of(path: Path) -> Optional[str]:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def _file_problem(path: Path) -> Optional[str]:
    """Why ``path`` is not a readable regular file (None when it is), without opening it."""
    try:
        st = os.stat(path)  # follows symlinks
    except ValueError:  # os.stat refuses it before asking the system
        return "not a possible file name (it contains a NUL byte)"
    except FileNotFoundError:
        if os.path.islink(path):
            return "a dangling symbolic link (its target does not exist)"
        return "does not exist"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return "a symbolic link loop"
        return f"cannot be read ({exc.strerror or exc})"
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if st.st_size == 0:
        return "an empty file (0 bytes)"
    if not os.access(path, os.R_OK):
        return "no permission to read it"
    return None


def _looks_like_image(path: Path) -> bool:
    signatures = _SIGNATURES.get(path.suffix.lower())
    if signatures is None:
        return True
    with open(path, "rb") as fh:
        head = fh.read(16)
    if path.suffix.lower() in (".tif", ".tiff") and head.startswith(_TIFF_BIG_ENDIAN):
        return True
    return all(head[offset:offset + len(sig)] == sig for offset, sig in signatures)


_TRAILERS = {".png": b"IEND\xaeB`\x82", ".jpg": b"\xff\xd9", ".jpeg": b"\xff\xd9"}


_HEADER_BYTES = 1 << 20  # enough for the size field of every format header_size reads, EXIF included


def _image_problem(path: Path, max_pixels: int) -> Optional[str]:
    """Cheap checks first (signature, pixel limit from the header, then the format's end marker); only
    a file whose end marker is missing is decoded here, so a truncated, corrupt or too large image is
    found before any model loads."""
    if not _looks_like_image(path):
        return f"not a {path.suffix.lstrip('.').upper()} image (corrupt or another kind of file)"
    with open(path, "rb") as fh:
        head = fh.read(_HEADER_BYTES)
    try:  # the caller prints the path: the message says "the image"
        check_pixel_limit(header_size(head), "the image", max_pixels)
    except ImageTooLargeError as exc:
        return str(exc)
    trailer = _TRAILERS.get(path.suffix.lower())
    if trailer is None:
        return None
    with open(path, "rb") as fh:
        fh.seek(max(os.path.getsize(path) - 16, 0))
        if trailer in fh.read():
            return None
    import cv2
    import numpy as np

    if cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8) is None:
        return f"a corrupt or truncated {path.suffix.lstrip('.').upper()} image"
    return None


def _video_problem(path: Path) -> Optional[str]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return "OpenCV cannot open it as a video (corrupt, or not a video)"
        ok, _frame = capture.read()
        if not ok:
            return "the video has no readable frame"
    finally:
        capture.release()
    return None


def check_input(path: Path, kind: Optional[str] = None) -> Optional[str]:
    """Why ``path`` cannot be processed, or None. Never opens a non-regular file."""
    problem = _file_problem(path)
    if problem:
        return problem
    kind = kind or kind_of(path)
    if kind is None:
        return (f"unsupported file type {path.suffix!r}; give images ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                f"or videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
    limit = max_pixels_limit() if kind == "image" else 0  # a wrong DWPOSE_MAX_PIXELS is the user's: raised
    try:
        return _image_problem(path, limit) if kind == "image" else _video_problem(path)
    except (OSError, ValueError) as exc:
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"


def walk_folder(folder: Path, skip: Optional[Path]) -> Iterable[Path]:
    """Files below ``folder`` with a known suffix, sorted, not descending into ``skip`` or symlinked
    folders (no loops)."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if skip is None or not _same(here / d, skip))
        for name in sorted(filenames):
            p = here / name
            if kind_of(p) is not None:
                yield p
        # folders named like media files (x.png/) are candidates too: they are reported, not entered
        for name in list(dirnames):
            if kind_of(here / name) is not None:
                dirnames.remove(name)
                yield here / name


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def collect_inputs(items: list[str], out: Optional[Path] = None) -> tuple[list[InputFile], list[Rejected]]:
    """The inputs named on the command line -> (files to process, rejected ones with reasons)."""
    found: list[InputFile] = []
    rejected: list[Rejected] = []
    for item in items:
        path = Path(item)
        if path.is_dir() and not path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            files = list(walk_folder(path, out))
            if not files:
                rejected.append(Rejected(path, "the folder contains no images or videos"))
            for f in files:
                _add(found, rejected, f, path)
        else:
            _add(found, rejected, path, None)
    assign_output_names(found)
    return found, rejected


def _add(found: list, rejected: list, path: Path, root: Optional[Path]) -> None:
    kind = kind_of(path)
    problem = check_input(path, kind)
    if problem:
        rejected.append(Rejected(path, problem))
        return
    rel = path.relative_to(root) if root is not None else Path(path.name)
    found.append(InputFile(path, kind, rel.with_suffix(""), root))


def assign_output_names(inputs: list[InputFile]) -> None:
    """Make every ``base`` unique (see the module rule), in place."""
    by_base: dict[Path, list[InputFile]] = {}
    for item in inputs:
        by_base.setdefault(item.base, []).append(item)
    for base, group in by_base.items():
        if len(group) > 1:
            for item in group:
                item.base = base.with_name(base.name + item.path.suffix.lower())
    seen: dict[Path, int] = {}
    for item in inputs:
        n = seen.get(item.base, 0) + 1
        seen[item.base] = n
        if n > 1:
            item.base = item.base.with_name(f"{item.base.name}-{n}")
