"""``python -m dwpose_core batch INPUTS... --out DIR``: poses for a whole data set, resumable.

The command line of :mod:`dwpose_core.batch.run` (which runs the inputs, here or on Ray): its flags
(the main command's job flags and the batch ones), their checks, the summary table and the exit
codes (see ``EPILOG``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    Formatter,
    Parser,
    UsageError,
    add_job_arguments,
    job_from_args,
    parse_and_run,
)

__all__ = ["build_parser", "main"]

EPILOG = """\
examples:
  python -m dwpose_core batch clips/ --out poses/ --track --smooth --no-pictures
  python -m dwpose_core batch clips.txt --out poses/ --workers 2          # one worker per GPU by default
  python -m dwpose_core batch clips.parquet --out /shared/poses --ray auto  # on a Ray cluster

Run the same command again to finish an interrupted run: complete inputs are skipped.
DIR/batch_journal.jsonl gets a line as each input finishes; the summary table (DIR/
batch_summary.parquet with pyarrow, else .jsonl) lists every input: status (done, skipped,
failed, pending), frames, people per frame, seconds, error, attempts.

exit codes: 0 every input done or already complete; 1 some inputs failed (recorded in the
summary); 2 wrong argument, or a model / backend / device problem; 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m dwpose_core batch", formatter_class=Formatter, epilog=EPILOG,
        description="Resumable whole-body pose extraction for a data set, on this machine or on Ray.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="folders (recursive), image/video files, or lists of paths (.txt, .csv, .parquet)")
    add_job_arguments(p)
    b = p.add_argument_group("batch")
    b.add_argument("--summary", type=Path, default=None,
                   help="summary table (.parquet or .jsonl); default: DIR/batch_summary.parquet with pyarrow, "
                        "else DIR/batch_summary.jsonl")
    b.add_argument("--workers", type=int, default=None,
                   help="workers (local) or actors (Ray); default: one per GPU, else 1 (local) or CPUs // 4 (Ray)")
    b.add_argument("--prefetch", type=int, default=2, help="inputs checked and read ahead of the workers")
    b.add_argument("--retries", type=int, default=1,
                   help="more attempts for an input that fails (not for an unreadable or corrupt one)")
    b.add_argument("--redo", action="store_true", help="annotate every input again, complete ones too")
    b.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray Data; ADDRESS of the cluster (auto, ray://host:10001); "
                        "none given: RAY_ADDRESS, else a local Ray instance")
    return p


def _ray_flag(argv: list[str]) -> list[str]:
    """``--ray clips/ --out o``: a path after --ray is an input, not an address."""
    fixed = list(argv)
    for i, token in enumerate(fixed[:-1]):
        if token == "--ray" and not fixed[i + 1].startswith("-") and os.path.exists(fixed[i + 1]):
            fixed[i] = "--ray="
    return fixed


def main(argv: Optional[list[str]] = None) -> int:
    argv = _ray_flag(list(sys.argv[1:] if argv is None else argv))
    return parse_and_run(build_parser(), argv, _run)


def _run(args) -> int:
    from ..batch import journal as bs
    from ..batch.inputs import expand_inputs
    from ..batch.run import run_batch, run_local
    from ..files.outputs import probe_writable

    for name, low in (("workers", 1), ("prefetch", 1), ("retries", 0)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise UsageError(f"--{name} must be at least {low}, got {value}.")
    setup, options = job_from_args(args)
    runner = run_local
    if args.ray is not None:
        from ..batch import ray_data as batch_ray

        batch_ray.require()
        runner = batch_ray.run_ray
    summary = args.summary or bs.default_summary_path(args.out)
    if summary.suffix.lower() not in (".parquet", ".jsonl"):
        raise UsageError(f"--summary must end in .parquet or .jsonl (the tables it writes), got {summary.name}")
    if summary.suffix.lower() == ".parquet" and not bs.parquet_available():
        raise UsageError(f"a Parquet summary needs pyarrow (pip install pyarrow), or give --summary {summary.with_suffix('.jsonl')}")
    items = expand_inputs(args.inputs, args.out)
    if not items:
        print("no inputs found; nothing was done", file=sys.stderr)
        return EXIT_SOME_FAILED
    probe_writable(args.out)
    started = time.perf_counter()
    with bs.RunLock(args.out):  # one run per output folder (released by the system if this one dies)
        table, interrupted = run_batch(items, setup, options, args, runner)
        bs.write_summary(summary, table)
    n = bs.counts(table)
    line = (f"{n['done']} done, {n['skipped']} already complete, {n['failed']} failed, {n['pending']} pending "
            f"of {len(items)} input(s) in {time.perf_counter() - started:.1f} s; summary: {summary}")
    if interrupted:
        print(f"interrupted: {line}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if n["failed"]:
        print(line, file=sys.stderr)
        return EXIT_SOME_FAILED
    if not args.quiet:
        print(f"done: {line}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
