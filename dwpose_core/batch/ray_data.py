"""The batch command on Ray Data (``python -m dwpose_core batch ... --ray [ADDRESS]``).

The inputs still to do become a dataset of rows ``(index, path, kind, base)``; ``map_batches``
sends them, one input a batch, to an actor pool of :class:`Annotate` callables. Each actor
builds its :class:`~dwpose_core.annotate.PoseAnnotator` once and writes each input's files itself
with :func:`~dwpose_core.batch.run.annotate_one` (the same code as the local run, so the outputs are
the same bytes). GPU actors ask for ``num_gpus=1`` (Ray sets ``CUDA_VISIBLE_DEVICES`` for each)
when the cluster has GPUs and the job is not pinned to the CPU; CPU actors otherwise. Ray Data
streams the rows with backpressure, so memory stays bounded however long the list is.

Failures: an input that raises is tried again inside its actor (``--retries``) and then comes
back as a ``failed`` row; an actor that dies (out of memory, a lost node) is restarted and its
batch retried by Ray (``--retries`` times); an input whose batch still never came back is
recorded as failed. On a cluster, the inputs and ``--out`` must be paths every node can read and
write (a shared file system), and every node needs this package and its dependencies.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["MISSING", "available", "require", "Annotate", "run_ray", "actor_plan"]

log = logging.getLogger("dwpose")

MISSING = ("--ray needs Ray Data, which is not installed: pip install 'ray[data]>=2.10' "
           "(or pip install -r requirements-ray.txt, or pip install 'comfyui-dwpose[ray]')")


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def require() -> None:
    from ..errors import UsageError

    if not available():
        raise UsageError(MISSING)


class Annotate:
    """The Ray Data callable: models once per actor, then one summary row per input row."""

    def __init__(self, setup, options, out: str, retries: int, redo: bool):
        from ..annotate import PoseAnnotator

        self.annotator = PoseAnnotator.from_setup(setup, options)
        self.out, self.retries, self.redo = Path(out), retries, redo

    def __call__(self, batch: dict) -> dict:
        from .run import annotate_one
        from .journal import is_complete, make_row
        from ..files.inputs import InputFile

        rows = []
        for index, path, kind, base in zip(batch["index"], batch["path"], batch["kind"], batch["base"]):
            item = InputFile(Path(str(path)), str(kind) or None, Path(str(base)))
            if not self.redo and is_complete(item, self.out, self.annotator.options.draw):
                # a retried batch: this input was finished before the actor died
                row = make_row(item, self.out, "skipped")
            else:
                row = annotate_one(self.annotator, item, self.out, self.retries)
            rows.append(json.dumps({"index": int(index), "row": row}))
        return {"result": np.array(rows, dtype=object)}


def actor_plan(resources: dict, setup, workers) -> tuple[int, float, float]:
    """(actors, num_gpus, num_cpus) per actor for a cluster with ``resources``."""
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    on_cpu = (setup.device or "").lower().startswith("cpu")
    if gpus and not on_cpu:
        return (workers or gpus), 1.0, 1.0
    return (workers or max(1, cpus // 4)), 0.0, 1.0


def run_ray(pending, setup, options, args, record: Callable[[int, dict], None]) -> bool:
    """Annotate ``pending`` [(index, InputFile)] on Ray Data; True when interrupted."""
    import ray
    import ray.data

    from .journal import is_complete, make_row, skipped_row

    started_here = False
    if not ray.is_initialized():
        address = args.ray or os.environ.get("RAY_ADDRESS") or None
        ray.init(address=address, log_to_driver=not args.quiet, logging_level=logging.ERROR if args.quiet
                 else logging.INFO, include_dashboard=False)
        started_here = True
    try:
        actors, num_gpus, num_cpus = actor_plan(ray.cluster_resources(), setup, args.workers)
        log.info("DWPose on Ray: %d %s actor(s)", actors, "GPU" if num_gpus else "CPU")
        context = ray.data.DataContext.get_current()
        context.max_errored_blocks = -1  # a batch that failed for good: its inputs are recorded below
        if args.quiet:
            logging.getLogger("ray").setLevel(logging.CRITICAL)
            context.enable_progress_bars = False
            context.print_on_execution_start = False
        per_block = max(1, min(64, len(pending) // (actors * 64)))
        items = [{"index": i, "path": str(item.path), "kind": item.kind or "", "base": str(item.base)}
                 for i, item in pending]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // per_block)))
        with warnings.catch_warnings():  # Ray >= 2.60 prefers other names for the two retry settings
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = dataset.map_batches(
                Annotate, batch_size=1, batch_format="numpy",
                fn_constructor_kwargs=dict(setup=setup, options=options, out=str(args.out), retries=args.retries,
                                           redo=args.redo),
                compute=ray.data.ActorPoolStrategy(size=actors), num_gpus=num_gpus, num_cpus=num_cpus,
                # a dead actor is replaced; its batch is tried again --retries times, then recorded
                max_restarts=-1, max_task_retries=args.retries)
        by_index = dict(pending)
        seen, lost = 0, "its Ray worker failed (retried); see the Ray logs"
        try:
            for batch in dataset.iter_batches(batch_size=1, batch_format="numpy"):
                for text in batch["result"]:
                    message = json.loads(str(text))
                    index, row = message["index"], message["row"]
                    if row["status"] == "skipped":  # finished before a retry: it is done
                        row = dict(skipped_row(by_index[index], args.out, {}), status="done")
                    record(index, row)
                    seen += 1
        except KeyboardInterrupt:
            return True
        except Exception as exc:
            if seen == 0:  # nothing came back at all: the models or the cluster (exit 2)
                raise _cause(exc) from None
            lost = f"not done: the Ray run stopped ({_cause(exc)})"
            print(f"error: {lost}", file=sys.stderr)
        for index, item in pending:  # batches Ray gave up on, or never ran
            if is_complete(item, args.out, options.draw):
                record(index, dict(skipped_row(item, args.out, {}), status="done"))
            else:
                record(index, make_row(item, args.out, "failed", attempts=args.retries + 1, error=lost))
        return False
    finally:
        if started_here:
            ray.shutdown()


def _cause(exc: BaseException) -> BaseException:
    """The user's error inside Ray's wrappers (a missing model file rather than 'actor died'):
    that exception when it travelled intact, else a one-line UsageError quoting its last line."""
    from ..errors import UsageError

    chain, todo = [], [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or any(current is c for c in chain):
            continue
        chain.append(current)
        todo += [getattr(current, "cause", None), current.__cause__, current.__context__]
    for current in chain:
        if not type(current).__module__.startswith("ray"):
            return current
    lines = [line.strip() for c in chain for line in str(c).splitlines()]
    errors = [line for line in lines if _ERROR_LINE.match(line) and not line.startswith("ray.")]
    return UsageError(f"the Ray workers could not start: {(errors or lines or [type(exc).__name__])[-1]}")


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")
