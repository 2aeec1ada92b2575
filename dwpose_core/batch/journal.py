"""What the batch command knows about every input: done or not, a journal that survives a kill,
and the summary table.

- An input is *complete* when its ``<base>.json`` exists (the single-input writers publish it
  last, only once the input is done) and, when pictures are on, its pose picture or video too.
  Complete inputs are skipped by the next run; an input with only ``<base>.incomplete.json`` is
  done again.
- The journal ``DIR/batch_journal.jsonl`` gets one line per input finished (done or failed) the
  moment it finishes, flushed to disk, so a killed run loses only the inputs in flight. A torn
  last line (a kill in the middle of a write) is ignored when it is read back.
- The summary (``DIR/batch_summary.parquet`` when pyarrow is installed, else
  ``DIR/batch_summary.jsonl``; ``--summary`` chooses) lists every input of the run, in input
  order, with the :data:`FIELDS`; it is written atomically at the end of a run, an interrupted
  one included (the inputs not reached are ``pending``).
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import time
from pathlib import Path
from typing import Iterable, Optional

from ..file_annotation import output_paths
from ..files.outputs import write_bytes

__all__ = ["FIELDS", "STATUSES", "JOURNAL_NAME", "make_row", "is_complete", "Journal", "read_journal",
           "skipped_row", "done_by_output", "default_summary_path", "write_summary", "read_summary", "counts"]

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
    """Append-only JSON lines, one per finished input, flushed and synced as each is written."""

    def __init__(self, out: Path):
        self.path = Path(out) / JOURNAL_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")
        if self._fh.tell():
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._fh.write("\n")  # a line torn by a kill stays alone, unread
        self.run = time.strftime("%Y-%m-%dT%H:%M:%S")

    def record(self, row: dict) -> None:
        self._fh.write(json.dumps(dict(row, run=self.run), ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_journal(out: Path) -> list[dict]:
    """Every whole line of the journal in ``out`` (none when there is no journal)."""
    path = Path(out) / JOURNAL_NAME
    if not path.is_file():
        return []
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill
            if isinstance(row, dict) and "output" in row:
                rows.append(row)
    return rows


def skipped_row(item, out: Path, journal: dict[str, dict]) -> dict:
    """The row of a complete input: its counts from the run that did it (the journal's last
    ``done`` line for its output), else read from its JSON."""
    row = make_row(item, out, "skipped")
    earlier = journal.get(row["output"])
    if earlier is not None:
        row.update(frames=earlier.get("frames", 0), people=earlier.get("people", []),
                   seconds=earlier.get("seconds", 0.0), attempts=earlier.get("attempts", 0))
        return row
    try:
        with open(row["output"], encoding="utf-8") as fh:
            frames = json.load(fh)
        row.update(frames=len(frames), people=[len(f.get("people") or []) for f in frames])
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        row["error"] = f"complete, but its JSON could not be read back: {exc}"
    return row


def done_by_output(rows: Iterable[dict]) -> dict[str, dict]:
    """output JSON path -> the last journal row that finished it."""
    return {row["output"]: row for row in rows if row.get("status") == "done"}


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
        return [json.loads(line) for line in fh if line.strip()]


def counts(rows: Iterable[dict]) -> dict[str, int]:
    result = {status: 0 for status in STATUSES}
    for row in rows:
        result[row["status"]] += 1
    return result
