"""What the batch command knows about every input: done or not, a journal that survives a kill,
and the summary table.

- An input is *complete* when its ``<base>.json`` exists (the single-input writers publish it
  last, only once the input is done) and, when pictures are on, its pose picture or video too.
  Complete inputs are skipped by the next run; an input with only ``<base>.incomplete.json`` is
  done again.
- The journal ``DIR/batch_journal.jsonl`` gets one line per input finished (done or failed) the
  moment it finishes, flushed to disk, so a killed run loses only the inputs in flight. A torn
  last line (a kill in the middle of a write) is ignored when it is read back; any other line that
  is not a well-formed row is skipped and counted in one warning (the journal is data from disk).
- The summary (``DIR/batch_summary.parquet`` when pyarrow is installed, else
  ``DIR/batch_summary.jsonl``; ``--summary`` chooses) lists every input of the run, in input
  order, with the :data:`FIELDS`; it is written atomically at the end of a run, an interrupted
  one included (the inputs not reached are ``pending``).
"""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Iterable, Optional

from ..file_annotation import output_paths
from ..files.outputs import write_bytes
from ..errors import UsageError
from ..formats.json_text import FormatError, read_document

log = logging.getLogger("dwpose")

__all__ = ["FIELDS", "STATUSES", "JOURNAL_NAME", "make_row", "is_complete", "Journal", "read_journal",
           "skipped_row", "done_by_output", "RunLock", "FolderBusyError", "LOCK_NAME",
           "OPTIONS_NAME", "job_record", "check_job_record", "option_differences", "OptionsChangedError", "default_summary_path", "write_summary", "read_summary", "counts"]

FIELDS = ("input", "output", "kind", "status", "frames", "people", "seconds", "error", "attempts")
# done: annotated by this run; skipped: complete from an earlier run; failed: see error;
# pending: not reached (interrupted run)
STATUSES = ("done", "skipped", "failed", "pending")
JOURNAL_NAME = "batch_journal.jsonl"


def make_row(item, out: Path, status: str, *, frames: int = 0, people: Iterable[int] = (), seconds: float = 0.0,
             error: Optional[str] = None, attempts: int = 0) -> dict:
    """One summary row of ``item`` (an :class:`~dwpose_core.files.inputs.InputFile`)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    return {"input": str(item.path), "output": str(output_paths(Path(out), Path(item.base), item.kind)["json"]),
            "kind": item.kind, "status": status, "frames": int(frames), "people": [int(n) for n in people],
            "seconds": round(float(seconds), 4), "error": error, "attempts": int(attempts)}


def is_complete(item, out: Path, draw: bool) -> bool:
    names = output_paths(Path(out), Path(item.base), item.kind)
    return names["json"].is_file() and (not draw or names["pose"].is_file())


class Journal:
    """Append-only JSON lines, one per finished input, flushed and synced as each is written. A journal
    that cannot be opened (a folder of that name, no permission) is one warning, and the run goes on
    without it: complete inputs are found by their outputs, the journal only keeps their counts."""

    def __init__(self, out: Path):
        self.path = Path(out) / JOURNAL_NAME
        self._fh = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
            if self._fh.tell():
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        self._fh.write("\n")  # a line torn by a kill stays alone, unread
        except OSError as exc:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            log.warning("warning: cannot keep the journal %s (%s); the run goes on without it", self.path,
                        exc.strerror or exc)
        self.run = time.strftime("%Y-%m-%dT%H:%M:%S")

    def record(self, row: dict) -> None:
        if self._fh is None:
            return
        self._fh.write(json.dumps(dict(row, run=self.run), ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


LOCK_NAME = "batch_run.lock"


class FolderBusyError(UsageError):
    """Another batch run is writing to the same output folder."""


class RunLock:
    """One batch run per output folder: an OS lock on ``DIR/batch_run.lock`` (``flock``; ``msvcrt`` on
    Windows), which the system releases when the holder exits, however it exits, so a crashed or
    killed run never leaves it stuck. The holder's PID is written in the file for the message."""

    def __init__(self, out: Path):
        self.path = Path(out) / LOCK_NAME
        self._fd: Optional[int] = None

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _lock(fd)
        except OSError:
            try:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() if hasattr(os, "pread") else ""
            finally:
                os.close(fd)
            who = f" (PID {holder})" if holder.isdigit() else ""
            raise FolderBusyError(f"another batch run{who} is writing to {self.path.parent}; wait for it to "
                                  f"finish, or give another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing releases the lock; the file stays (removing it would race a waiting run)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


MAX_LINE = 1 << 20  # a journal line is a few hundred bytes; longer ones are skipped unread
# The type of every field of a row (None allowed where it says so); a row that differs is skipped.
_ROW_TYPES = {"input": (str,), "output": (str,), "kind": (str, type(None)), "status": (str,), "frames": (int,),
              "seconds": (int, float), "error": (str, type(None)), "attempts": (int,)}


def _valid_row(row) -> bool:
    if not isinstance(row, dict) or row.get("status") not in STATUSES:
        return False
    for name, types in _ROW_TYPES.items():
        value = row.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            return False
    people = row.get("people")
    return isinstance(people, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in people)


def _lines(fh, limit: int) -> Iterable[Optional[bytes]]:
    """The file's lines, each read with at most ``limit`` bytes held; None for a longer one."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := fh.readline(limit)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


def read_journal(out: Path) -> list[dict]:
    """Every whole, well-formed line of the journal in ``out`` (none when there is no journal). Journal
    lines are data from disk: a line torn by a kill is ignored silently; any other line that is not a
    row of the :data:`FIELDS` with their types (too long, too deep, a wrong type) is skipped, and the
    lines skipped are counted in one warning."""
    path = Path(out) / JOURNAL_NAME
    if not path.exists():
        return []
    rows, bad, last_torn = [], 0, False
    try:
        with open(path, "rb") as fh:
            for line in _lines(fh, MAX_LINE):
                last_torn = line is not None and not line.endswith(b"\n")
                if line is None or not line.strip():
                    bad += line is None
                    continue
                try:
                    row = read_document(line, "journal line", max_depth=4)
                except FormatError:
                    bad += not last_torn  # a kill in the middle of a write tears only the last line
                    continue
                if _valid_row(row):
                    rows.append(row)
                else:
                    bad += 1
    except OSError as exc:
        log.warning("warning: cannot read the journal %s (%s); complete inputs are still found by their outputs",
                    path, exc.strerror or exc)
        return []
    if bad:
        log.warning("warning: %s: %d unreadable line(s) skipped", path, bad)
    return rows


def skipped_row(item, out: Path, journal: dict[str, dict]) -> dict:
    """The row of a complete input: its counts from the run that did it (the journal's last
    ``done`` line for its output), else read from its JSON."""
    row = make_row(item, out, "skipped")
    earlier = journal.get(row["output"])
    if earlier is not None:
        row.update(frames=earlier["frames"], people=earlier["people"], seconds=earlier["seconds"],
                   attempts=earlier["attempts"])
        return row
    try:
        with open(row["output"], "rb") as fh:
            frames = read_document(fh.read(), row["output"])
        frames = frames if isinstance(frames, list) else [frames]
        row.update(frames=len(frames), people=[len(f.get("people") or []) if isinstance(f, dict) else 0
                                               for f in frames])
    except (OSError, FormatError) as exc:
        row["error"] = f"complete, but its JSON could not be read back: {exc}"
    return row


def done_by_output(rows: Iterable[dict]) -> dict[str, dict]:
    """output JSON path -> the last journal row that finished it."""
    return {row["output"]: row for row in rows if row.get("status") == "done"}


# ----------------------------------------------------------------------------- the job's options

OPTIONS_NAME = "batch_options.json"
# What decides an output's content -> the flag that sets it (backend, device, precision, workers and
# --no-pictures are not recorded: they change how the job runs, or only which files it writes,
# and a missing picture is made by the next run anyway).
_RECORDED = {"det": "--det", "pose": "--pose", "det_size": "--det-size", "body": "--no-body", "hands": "--no-hands",
             "face": "--no-face", "feet": "--feet", "selection": "--selection", "top_k": "--top-k",
             "max_people": "--max-people", "det_threshold": "--det-threshold", "nms_threshold": "nms_threshold",
             "candidate_threshold": "candidate_threshold", "max_detections": "--max-detections",
             "tracking": "--track", "smoothing": "--smooth", "det_every": "--det-every",
             "resolution": "--resolution", "size": "size", "xinsir": "--xinsir", "profile": "--profile",
             "face_crops": "--face-crops"}


def job_record(setup, options) -> dict:
    """The options that decide what a batch run's outputs hold (see :data:`_RECORDED`)."""
    record = {"det": setup.detector, "pose": setup.pose, "det_size": setup.det_size}
    record.update(options.parts.as_dict())
    for name in _RECORDED:
        if name not in record:
            value = options.tracks if name == "tracking" else getattr(options, name)
            record[name] = list(value) if isinstance(value, tuple) else value
    return record


def read_job_record(out: Path) -> Optional[dict]:
    """The options recorded by an earlier run in ``out``; None when there are none (or they cannot be read)."""
    path = Path(out) / OPTIONS_NAME
    try:
        with open(path, "rb") as fh:
            data = read_document(fh.read(1 << 20), str(path), max_depth=4)
    except FileNotFoundError:
        return None
    except (OSError, FormatError) as exc:
        log.warning("warning: cannot read %s (%s); the options of the earlier runs are unknown", path, exc)
        return None
    return data if isinstance(data, dict) else None


def write_job_record(out: Path, record: dict) -> Path:
    return write_bytes(Path(out) / OPTIONS_NAME, (json.dumps(record, indent=1) + "\n").encode("utf-8"))


def option_differences(old: dict, new: dict) -> list[str]:
    """``["--smooth 0.5 -> 1.0", ...]``: what differs between two :func:`job_record` values."""
    changes = []
    for name, flag in _RECORDED.items():
        if name in old and old.get(name) != new.get(name):
            changes.append(f"{flag} {_shown(old.get(name))} -> {_shown(new.get(name))}")
    return changes


def _shown(value) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


class OptionsChangedError(UsageError):
    """Resuming with other job options than the outputs already there were made with."""


def check_job_record(out: Path, record: dict, resuming: bool) -> None:
    """Refuse to mix outputs of different options in one folder: when ``resuming`` (some inputs are
    complete and are about to be skipped) and the recorded options differ, :class:`OptionsChangedError`
    naming the differences. Otherwise the record is (re)written for the next run."""
    old = read_job_record(out)
    if resuming and old is not None:
        changes = option_differences(old, record)
        if changes:
            raise OptionsChangedError(
                f"{out} holds outputs made with other options ({'; '.join(changes)}): give the same options "
                f"to resume, or add --redo to redo every input with these")
    if old != record:
        write_job_record(out, record)


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def default_summary_path(out: Path) -> Path:
    return Path(out) / ("batch_summary.parquet" if parquet_available() else "batch_summary.jsonl")


def write_summary(path: Path, rows: list[dict]) -> Path:
    """The table, atomically: Parquet for a ``.parquet`` path, JSON lines otherwise."""
    path = Path(path)
    rows = [{name: row.get(name) for name in FIELDS} for row in rows]
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([("input", pa.string()), ("output", pa.string()), ("kind", pa.string()),
                            ("status", pa.string()), ("frames", pa.int64()), ("people", pa.list_(pa.int32())),
                            ("seconds", pa.float64()), ("error", pa.string()), ("attempts", pa.int32())])
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer)
        return write_bytes(path, buffer.getvalue())
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return write_bytes(path, text.encode("utf-8"))


def read_summary(path: Path) -> list[dict]:
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with open(path, encoding="utf-8") as fh:
        return [read_document(line, str(path)) for line in fh if line.strip()]


def counts(rows: Iterable[dict]) -> dict[str, int]:
    result = {status: 0 for status in STATUSES}
    for row in rows:
        result[row["status"]] += 1
    return result
