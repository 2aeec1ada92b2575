"""Poses for a whole data set, resumable: what ``python -m dwpose_core batch`` (:mod:`dwpose_core.cli.batch`) runs.

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
from ..errors import one_line

log = logging.getLogger("dwpose")

__all__ = ["run_batch", "expand_inputs", "read_path_list", "annotate_one", "worker_devices", "remove_stale_temporaries",
           "LIST_SUFFIXES"]

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
    ``.<final name>.<pid>.<random>``; those of a live process stay, see
    :func:`dwpose_core.files.outputs.remove_stale_temporaries`)."""
    from ..file_annotation import output_paths
    from ..files.outputs import incomplete_path, remove_stale_temporaries as remove

    names = output_paths(Path(out), Path(item.base), item.kind or "image")
    return [p for target in (*names.values(), incomplete_path(names["json"])) for p in remove(target)]


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
                try:  # whatever an entry is, it ends as this input's row, never as the end of the run
                    problem = check_input(item.path, item.kind)
                    # Decode ahead: an image whole, a video's first chunk, while the workers are busy.
                    source = FrameSource(item.path, item.kind).read_ahead() if problem is None else None
                except Exception as exc:  # noqa: BLE001 - recorded as the input's error
                    problem, source = one_line(exc, with_type=True), None
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
    try:
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
    finally:
        stop.set()
        _shut_down(threads, tasks)
        annotators.clear()  # the sessions go now, while the interpreter is whole (not at its exit)
    return interrupted


def _shut_down(threads: list, tasks: queue.Queue) -> None:
    """Join every thread (a worker stops at its next frame once ``stop`` is set) and close the sources
    read ahead but never taken, whatever further Ctrl-C lands meanwhile: a thread left inside an
    inference runtime when the interpreter exits aborts the process ("terminate called without an
    active exception")."""
    while any(thread.is_alive() for thread in threads):
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:
            print("stopping: waiting for the frame in flight", file=sys.stderr)
    while True:
        try:
            task = tasks.get_nowait()
        except queue.Empty:
            break
        if task is not None and task[3] is not None:
            task[3].close()


# ------------------------------------------------------------------------------------- a run

def run_batch(items, setup, options, args, runner: Optional[Callable] = None) -> tuple[list[dict], bool]:
    """Annotate ``items`` [InputFile] into ``args.out`` with ``runner`` (:func:`run_local`, or
    :func:`~dwpose_core.batch.ray_data.run_ray`; same arguments), skipping the complete ones unless
    ``args.redo``; every finished input goes to the journal as it ends. Returns (the summary table:
    one row per item, in order; True when interrupted)."""
    from tqdm import tqdm

    from . import journal as bs

    earlier = bs.done_by_output(bs.read_journal(args.out))
    rows: dict[int, dict] = {}
    pending = []
    for index, item in enumerate(items):
        if not args.redo and bs.is_complete(item, args.out, options.draw):
            rows[index] = bs.skipped_row(item, args.out, earlier)
        else:
            pending.append((index, item))
    # Outputs made with other options are never mixed in: refused in one line (or --redo redoes them).
    bs.check_job_record(args.out, bs.job_record(setup, options), resuming=bool(rows))
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
                interrupted = (runner or run_local)(pending, setup, options, args, record)
            finally:
                bar.close()
    return [rows.get(i) or bs.make_row(item, args.out, "pending") for i, item in enumerate(items)], interrupted
