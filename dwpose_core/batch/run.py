"""``python -m dwpose_core batch INPUTS... --out DIR``: poses for a whole data set, resumable.

Every input gets exactly the files the single-input command writes with the same options (the
same :func:`~dwpose_core.file_annotation.annotate_file`, so the JSON is byte-identical). INPUTS
are folders (searched recursively), files, or lists of paths: ``.txt`` (one path a line, ``#``
comments), ``.csv`` (the ``path`` column, else the first one) or ``.parquet`` (the ``path``
column). A list's relative paths are read from the list's folder, and inputs inside that folder
keep their sub-folders under ``--out`` (as a folder given on the command line does).

Resumable: an input whose outputs are complete is skipped (:mod:`dwpose_core.batch.journal`);
an input that fails is recorded with its error and the run goes on; an interrupt (Ctrl-C, a
kill) loses at most the inputs in flight. Output names are decided from the list of inputs,
readable or not, so a rerun gives every input the same name.

On one machine the models are loaded once per worker; a prefetch thread checks the next inputs
(opening each video and decoding its first frame) and reads their bytes ahead while the current
one runs; there is one worker per GPU when the torch backend sees several GPUs, else one.
``--ray [ADDRESS]`` runs the same job on Ray Data (:mod:`dwpose_core.batch.ray_data`).
"""
from __future__ import annotations

import argparse
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

from .inputs import LIST_SUFFIXES, expand_inputs, read_path_list  # noqa: F401 - re-exported
from ..cli.main import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    UsageError,
    add_job_arguments,
    job_from_args,
    one_line,
    run_reporting,
)

log = logging.getLogger("dwpose")

__all__ = ["build_parser", "main", "expand_inputs", "read_path_list", "annotate_one", "worker_devices", "remove_stale_temporaries",
           "LIST_SUFFIXES"]

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


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dwpose_core batch", formatter_class=_Formatter, epilog=EPILOG,
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


# ------------------------------------------------------------------------------------- one input

class _Stopped(KeyboardInterrupt):
    """Raised from a video's progress callback when the run is stopping."""


def annotate_one(annotator, item, out: Path, retries: int = 0, stop: Optional[threading.Event] = None,
                 problem: Optional[str] = "check", source=None) -> Optional[dict]:
    """Annotate ``item`` into ``out`` -> its summary row (done or failed); None when ``stop`` was set
    while it ran (a video keeps its frames done in ``<base>.incomplete.json``). ``problem``: the
    result of :func:`~dwpose_core.files.inputs.check_input` when the caller checked it already; ``source``:
    a :class:`~dwpose_core.files.frame_source.FrameSource` already reading the input ahead (first attempt)."""
    from .journal import make_row
    from ..file_annotation import annotate_file
    from ..files.inputs import check_input

    if problem == "check":
        problem = check_input(item.path, item.kind)
    if problem:
        if source is not None:
            source.close()
        return make_row(item, out, "failed", error=problem)

    def progress(_frames: int) -> None:
        if stop is not None and stop.is_set():
            raise _Stopped()

    remove_stale_temporaries(item, out)
    started, attempts, error = time.perf_counter(), 0, None
    while attempts <= retries:
        attempts += 1
        try:
            result = annotate_file(annotator, item.path, item.kind, out, item.base, progress=progress,
                                   source=source)
        except _Stopped:
            return None
        except Exception as exc:  # noqa: BLE001 - recorded; one input never stops the others
            source = None  # consumed: a retry reads the file again
            error = one_line(exc, with_type=True)
            if isinstance(exc, ValueError):
                break  # the input's own content: another attempt gives the same answer
            continue
        return make_row(item, out, "done", frames=result.frames, people=result.people,
                        seconds=time.perf_counter() - started, attempts=attempts)
    return make_row(item, out, "failed", error=error, seconds=time.perf_counter() - started, attempts=attempts)


def remove_stale_temporaries(item, out: Path) -> list[Path]:
    """Delete the temporary files a killed run left for ``item``'s outputs (the writers name them
    ``.<final name>.<random>``, see :mod:`dwpose_core.files.outputs`); called only by the input's owner."""
    import glob

    from ..file_annotation import output_paths

    removed = []
    for target in output_paths(Path(out), Path(item.base), item.kind or "image").values():
        for name in glob.glob(os.path.join(glob.escape(str(target.parent)), glob.escape(f".{target.name}.") + "*")):
            try:
                os.unlink(name)
                removed.append(Path(name))
            except OSError:
                pass
    return removed


# ------------------------------------------------------------------------------------- local run

def worker_devices(setup, workers: Optional[int]) -> list[Optional[str]]:
    """One device per worker: every GPU torch sees (torch backend, or auto on a machine with a GPU
    driver, torch installed, no --device), else the setup's own device once."""
    devices: list[Optional[str]] = [setup.device]
    if setup.device is None and setup.backend in ("torch", "auto"):
        count = _torch_gpu_count(setup.backend)
        if count > 1:
            devices = [f"cuda:{i}" for i in range(count)]
    if workers:
        devices = [devices[i % len(devices)] for i in range(workers)]
    return devices


def _torch_gpu_count(backend: str) -> int:
    from ..backends.plan import system_may_have_accelerator, torch_installed

    if not torch_installed() or (backend == "auto" and not system_may_have_accelerator()):
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_local(pending, setup, options, args, record: Callable[[int, dict], None]) -> bool:
    """Annotate ``pending`` [(index, InputFile)] here; ``record(index, row)`` for each finished one.
    Returns True when interrupted."""
    from ..annotate import PoseAnnotator
    from ..files.frame_source import FrameSource
    from ..files.inputs import check_input

    devices = worker_devices(setup, args.workers)
    annotators = [PoseAnnotator.from_setup(replace(setup, device=d), options) for d in devices]
    info = annotators[0].estimator.info
    log.info("DWPose: detector %s, pose %s, %d worker(s) on %s", info["detector"] or "none (whole frame)",
             info["pose"], len(devices), ", ".join(d or "the default device" for d in dict.fromkeys(devices)))
    tasks: queue.Queue = queue.Queue(maxsize=max(1, args.prefetch))
    results: queue.Queue = queue.Queue()
    stop = threading.Event()

    def prefetch() -> None:
        try:
            for index, item in pending:
                if stop.is_set():
                    break
                problem = check_input(item.path, item.kind)
                # Decode ahead: an image whole, a video's first chunk, while the workers are busy.
                source = FrameSource(item.path, item.kind).read_ahead() if problem is None else None
                while not stop.is_set():
                    try:
                        tasks.put((index, item, problem, source), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                else:
                    if source is not None:
                        source.close()
        finally:
            for _ in annotators:
                tasks.put(None)

    def work(annotator) -> None:
        try:
            while (task := tasks.get()) is not None:
                index, item, problem, source = task
                if stop.is_set():
                    if source is not None:
                        source.close()
                    continue  # left pending
                try:
                    row = annotate_one(annotator, item, args.out, args.retries, stop, problem, source)
                except BaseException as exc:  # noqa: BLE001 - reported as the input's error
                    from .journal import make_row

                    row = make_row(item, args.out, "failed", error=one_line(exc, with_type=True))
                if row is not None:
                    results.put((index, row))
        finally:
            results.put(None)

    threads = [threading.Thread(target=prefetch, name="dwpose-prefetch", daemon=True)]
    threads += [threading.Thread(target=work, args=(a,), name=f"dwpose-worker-{i}", daemon=True)
                for i, a in enumerate(annotators)]
    for thread in threads:
        thread.start()
    running, interrupted = len(annotators), False
    while running:
        try:
            message = results.get(timeout=0.2)
            if message is None:
                running -= 1
            else:
                record(*message)
        except queue.Empty:
            continue
        except KeyboardInterrupt:  # wherever it lands: a row not recorded is found complete next time
            if interrupted:  # a second Ctrl-C: stop waiting for the inputs in flight
                break
            interrupted = True
            stop.set()
            print("interrupting: stopping the inputs in flight (Ctrl-C again to quit now)", file=sys.stderr)
    return interrupted


# ------------------------------------------------------------------------------------- command

def _ray_flag(argv: list[str]) -> list[str]:
    """``--ray clips/ --out o``: a path after --ray is an input, not an address."""
    fixed = list(argv)
    for i, token in enumerate(fixed[:-1]):
        if token == "--ray" and not fixed[i + 1].startswith("-") and os.path.exists(fixed[i + 1]):
            fixed[i] = "--ray="
    return fixed


def main(argv: Optional[list[str]] = None) -> int:
    argv = _ray_flag(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    return run_reporting(_run, args)


def _run(args) -> int:
    from tqdm import tqdm

    from . import journal as bs
    from ..files.outputs import probe_writable

    for name, low in (("workers", 1), ("prefetch", 1), ("retries", 0)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise UsageError(f"--{name} must be at least {low}, got {value}.")
    setup, options = job_from_args(args)
    if args.ray is not None:
        from . import ray_data as batch_ray

        batch_ray.require()
    summary = args.summary or bs.default_summary_path(args.out)
    if summary.suffix.lower() == ".parquet" and not bs.parquet_available():
        raise UsageError(f"a Parquet summary needs pyarrow (pip install pyarrow), or give --summary {summary.with_suffix('.jsonl')}")
    items = expand_inputs(args.inputs, args.out)
    if not items:
        print("no inputs found; nothing was done", file=sys.stderr)
        return EXIT_SOME_FAILED
    probe_writable(args.out)
    earlier = bs.done_by_output(bs.read_journal(args.out))
    rows: dict[int, dict] = {}
    pending = []
    for index, item in enumerate(items):
        if not args.redo and bs.is_complete(item, args.out, options.draw):
            rows[index] = bs.skipped_row(item, args.out, earlier)
        else:
            pending.append((index, item))
    started = time.perf_counter()
    interrupted = False
    if pending:
        bar = tqdm(total=len(pending), desc="inputs", unit="input", disable=args.quiet)
        with bs.Journal(args.out) as journal:
            def record(index: int, row: dict) -> None:
                if index in rows:
                    return  # a Ray retry that finished the same input twice
                try:
                    journal.record(row)  # first: a done input is never missing from the journal
                finally:  # and a Ctrl-C landing right after it never drops the row from the summary
                    rows[index] = row
                if row["status"] == "failed":
                    tqdm.write(f"error: {row['input']}: {row['error']}", file=sys.stderr)
                bar.update(1)

            try:
                if args.ray is not None:
                    from . import ray_data as batch_ray

                    interrupted = batch_ray.run_ray(pending, setup, options, args, record)
                else:
                    interrupted = run_local(pending, setup, options, args, record)
            finally:
                bar.close()
    table = [rows.get(i) or bs.make_row(item, args.out, "pending") for i, item in enumerate(items)]
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
