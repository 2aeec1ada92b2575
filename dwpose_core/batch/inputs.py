"""The batch command's inputs: folders, files and lists of paths -> the files to do and their output names.

- A folder is searched recursively (as the single-input command does, never descending into
  ``--out``); its files keep their sub-folders under ``--out``.
- A list is a ``.txt`` (one path a line; blank lines and ``#`` comments skipped), a ``.csv`` (the
  ``path`` column when the first row names one, else the first column) or a ``.parquet`` file
  (its ``path`` column; needs pyarrow). Relative paths are read from the list's folder, and the
  inputs inside that folder keep their sub-folders under ``--out``; others keep their name only.
- Each file is taken once (the first time it is named), in order. Nothing is opened or checked
  here: a missing or corrupt file is found by the worker and recorded, and output names are
  decided from the list as given (:func:`~dwpose_core.files.inputs.assign_output_names`), so a
  rerun gives every input the same name whatever became readable since.
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Optional

from ..errors import UsageError

__all__ = ["LIST_SUFFIXES", "read_path_list", "expand_inputs"]

LIST_SUFFIXES = (".txt", ".csv", ".parquet")


def read_path_list(path: Path) -> list[str]:
    """The paths named in a .txt, .csv or .parquet list (as written, not resolved)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return _parquet_paths(path)
        with open(path, encoding="utf-8-sig", newline="") as fh:
            if suffix == ".csv":
                rows = [row for row in csv.reader(fh) if row and any(cell.strip() for cell in row)]
                if not rows:
                    return []
                header = [cell.strip().lower() for cell in rows[0]]
                column = header.index("path") if "path" in header else 0
                rows = rows[1:] if "path" in header else rows
                return [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
            return [line.strip() for line in fh if line.strip() and not line.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the list {path}: {exc}") from exc


def _parquet_paths(path: Path) -> list[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"reading {path} needs pyarrow: pip install pyarrow") from None
    names = pq.read_schema(path).names
    if "path" not in names:
        raise UsageError(f"{path} has no 'path' column (columns: {', '.join(names)})")
    return [str(v) for v in pq.read_table(path, columns=["path"]).column("path").to_pylist() if v]


def expand_inputs(items: list[str], out: Path):
    """INPUTS -> InputFile list (unchecked), in order, each path once, with unique output names."""
    from ..files.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES
    from ..files.inputs import InputFile, assign_output_names, kind_of, walk_folder

    found, seen = [], set()
    media = IMAGE_SUFFIXES | VIDEO_SUFFIXES

    def add(path: Path, root: Optional[Path]) -> None:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            rel = path.relative_to(root) if root is not None else Path(path.name)
            found.append(InputFile(path, kind_of(path), rel.with_suffix(""), root))

    def add_any(path: Path, root: Optional[Path]) -> None:
        if path.is_dir() and path.suffix.lower() not in media:
            files = list(walk_folder(path, out))
            if not files:
                print(f"warning: {path}: the folder contains no images or videos", file=sys.stderr)
            for f in files:
                add(f, root if root is not None else path)
        else:
            add(path, root)

    for item in items:
        path = Path(item)
        if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            folder = Path(os.path.normpath(path.parent))
            for entry in read_path_list(path):
                target = Path(os.path.normpath(folder / entry))
                add_any(target, folder if _inside(target, folder) else None)
        else:
            add_any(path, None)
    assign_output_names(found)
    return found


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True
