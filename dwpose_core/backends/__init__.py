"""Model loading: execute a backend plan, and the process-wide model cache.

``acquire_model(path, backend=..., ...)`` returns a :class:`ModelHandle`: one
holder's claim on a model that is created once per process per plan key (file,
backend, device, precision, providers, input size, derived graph) and shared
thread-safely. The model is freed when its last handle is released; releasing a
handle twice is a no-op, so one holder can never free a model another still
holds. ``load_model`` is the older form (it returns the shared model itself;
``release_model(model)`` gives back one of those anonymous holds, never a handle's).

Each load decides once with :func:`~dwpose_core.backends.plan.make_plan` (the
``auto`` rule, the device, the providers, the precision, a derived graph) and
then runs that :class:`~dwpose_core.backends.plan.BackendPlan` as it is. What
runs is logged once and kept on ``model.info``; the plan on ``model.plan``.
The plan module is imported on first use (``BackendPlan``, ``make_plan``,
``choose_backend``, ``plan_backend`` are reachable from here all the same).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, Union

from .base import BackendError, BackendInfo, DeviceError, InferenceModel
from .derived_graphs import derived_graph

if TYPE_CHECKING:
    from .plan import BackendPlan

__all__ = ["BackendError", "BackendInfo", "DeviceError", "InferenceModel", "ModelHandle", "acquire_model", "load_model",
           "load_detector", "release_model", "release_all", "choose_backend", "BackendPlan", "make_plan"]

_FROM_PLAN = ("BACKENDS", "BackendPlan", "make_plan", "choose_backend", "plan_backend", "fallback_backend")


def __getattr__(name: str):
    if name in _FROM_PLAN:  # the plan module, on first use
        from . import plan

        return getattr(plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

log = logging.getLogger("dwpose")

_cache: dict[tuple, InferenceModel] = {}
_holds: dict[int, int] = {}  # id(model) -> live holds (handles + anonymous); freed when it reaches 0
_anonymous: dict[int, int] = {}  # id(model) -> holds taken by load_model (released by release_model(model))
_lock = threading.Lock()
_reported: set[tuple] = set()


class ModelHandle:
    """One holder's claim on a shared model. Attribute reads go to the model, so a handle can be
    passed wherever an InferenceModel is expected; ``release()`` is idempotent."""

    __slots__ = ("_model", "_released", "__weakref__")

    def __init__(self, model: InferenceModel):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_released", False)

    @property
    def model(self) -> InferenceModel:
        if self._released:
            raise BackendError("This model handle was released; acquire the model again.")
        return self._model

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        """Give this holder's claim back (the model is freed with its last claim); a second call does nothing."""
        with _lock:
            if self._released:
                return
            object.__setattr__(self, "_released", True)
            model = self._model
            last = _drop_hold(model)
        if last:
            model.release()

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __setattr__(self, name, value):  # e.g. tests wrapping run(): applies to the shared model
        setattr(self.model, name, value)

    def __repr__(self) -> str:
        state = "released" if self._released else str(getattr(self._model, "info", "?"))
        return f"<ModelHandle {getattr(self._model, 'path', '?')} {state}>"


def _drop_hold(model) -> bool:
    """Under _lock: remove one hold; True when it was the last (the model left the cache)."""
    key = id(model)
    if key not in _holds:
        return False  # already freed by release_all
    left = _holds[key] - 1
    if left > 0:
        _holds[key] = left
        return False
    _holds.pop(key, None)
    _anonymous.pop(key, None)
    for cache_key, cached in list(_cache.items()):
        if cached is model:
            del _cache[cache_key]
    return True


def _get(path, backend, device, precision, providers, option_name, det_size, batch="file") -> InferenceModel:
    from .plan import make_plan

    plan = make_plan(path, backend, device=device, precision=precision, providers=providers,
                     option_name=option_name, det_size=det_size, batch=batch)
    return _load(plan)


def _load(plan: "BackendPlan") -> InferenceModel:
    """The cached model for ``plan``, created from it when missing; takes one hold."""
    with _lock:
        model = _cache.get(plan.key)
        if model is None:
            try:
                model = _create(plan)
            except BackendError as exc:
                if getattr(exc, "plan", None) is None:
                    exc.plan = plan  # the estimator pool's fallback rule reads which plan failed
                raise
            _cache[plan.key] = model
        _holds[id(model)] = _holds.get(id(model), 0) + 1
    report_key = (str(plan.path), str(model.info), plan.det_size)
    if report_key not in _reported:
        _reported.add(report_key)
        size = f" at {plan.det_size}x{plan.det_size}" if plan.det_size else ""
        log.info("DWPose: %s runs with %s%s", plan.path.name, model.info, size)
        log.debug("DWPose: %s", plan)
    return model


def acquire_model(path: Union[str, Path], *, backend: str = "auto", device: Optional[str] = None,
                  precision: str = "fp32", providers: Union[str, Sequence[str]] = "auto",
                  option_name: Optional[str] = None, det_size: Optional[int] = None,
                  batch: str = "file") -> ModelHandle:
    """Load (or reuse) the model in ``path`` and return this holder's :class:`ModelHandle`.

    ``option_name`` names the device setting in messages (``"--device"`` on the command line, the
    widget name ``"device"`` in ComfyUI; None: the Python keyword ``device=``). ``det_size``: a
    detector's square input size when it differs from the file's own (see :func:`load_detector`).
    ``batch="any"``: with ONNX Runtime, a file fixed to batch 1 (the published ones) runs as a graph
    of the same weights with a dynamic batch, written once into the per-user cache (needs torch
    the first time; without torch the file runs as it is). Crops then go through in chunks:
    1.5-1.8x faster per crop on a 2-core CPU (benchmarks/pose_chunks.py).
    """
    return ModelHandle(_get(path, backend, device, precision, providers, option_name, det_size, batch))


def load_model(path: Union[str, Path], *, backend: str = "auto", device: Optional[str] = None,
               precision: str = "fp32", providers: Union[str, Sequence[str]] = "auto",
               option_name: Optional[str] = None, det_size: Optional[int] = None,
               batch: str = "file") -> InferenceModel:
    """Load (or reuse) the shared model itself, taking one anonymous hold (see ``release_model``).
    Prefer :func:`acquire_model`, whose handles make double releases harmless."""
    model = _get(path, backend, device, precision, providers, option_name, det_size, batch)
    with _lock:
        _anonymous[id(model)] = _anonymous.get(id(model), 0) + 1
    return model


def load_detector(path: Union[str, Path], det_size: int = 640, **options) -> ModelHandle:
    """A YOLOX detector handle that runs at ``det_size`` x ``det_size`` (multiple of 32, 320..1280).

    640 (the published file's contract) loads the file as it is. Another size: the torch backend
    runs the published weights at that size directly; with ONNX Runtime (chosen or auto on the CPU)
    the pack writes an ONNX graph of the same weights at that size once into the per-user cache
    (``dwpose_core.backends.derived_graphs``) and runs it; without torch to write it, a clear error.
    """
    from ..stages.detection import check_det_size

    size = check_det_size(det_size)
    return acquire_model(path, det_size=None if size == 640 else size, **options)


def _create(plan: "BackendPlan") -> InferenceModel:
    """Run the plan: the decided backend, device or providers, precision and graph; nothing is asked again."""
    path = plan.path
    if plan.backend == "onnxruntime":
        from .ort_backend import OrtModel

        providers = list(plan.providers)
        if plan.derived_graph == "det_size":
            model = OrtModel(derived_graph(path, plan.det_size), providers=providers)
        elif plan.derived_graph == "batch":
            model = _any_batch(path, providers, plan.can_write_graph)
        else:
            model = OrtModel(path, providers=providers)
        model.path = path  # messages name the user's file
    else:
        import torch

        from .torch_backend import TorchModel

        model = TorchModel(path, device=torch.device(plan.device), precision=plan.precision,
                           option_name=plan.option_name)
        if plan.det_size:
            model.set_input_hw((plan.det_size, plan.det_size))
    model.plan = plan
    return model


def _any_batch(path: Path, providers, can_write: bool = True):
    """ONNX Runtime on ``path``, or on its dynamic-batch derived graph when the file is fixed to batch 1
    (one written by an earlier process; else written now when ``can_write``: torch is installed)."""
    from . import derived_graphs as detsize
    from .ort_backend import OrtModel

    try:
        known = detsize.cached_graph_path(path, None)
        if detsize._verified(known):  # written by an earlier process: the file itself is not even opened
            return OrtModel(known, providers=providers)
    except OSError:
        pass
    fixed = detsize.fixed_batch(path)  # from the graph parsed once (no session, no optimised copy of it)
    if fixed is False or not can_write:
        return OrtModel(path, providers=providers)
    if fixed is None:  # could not tell from the graph: ask ONNX Runtime
        model = OrtModel(path, providers=providers)
        if model.max_batch is None:
            return model
        model.release()
    try:
        return OrtModel(derived_graph(path), providers=providers)
    except (BackendError, ValueError) as exc:  # an optimisation: the file itself still runs, one item per call
        # (ValueError: a graph that is not an architecture the pack can rewrite, e.g. a custom model)
        log.info("DWPose: %s runs one item per call (%s)", path.name, exc)
        return OrtModel(path, providers=providers)


def release_all() -> None:
    """Drop every cached model and free its memory (whoever still holds it)."""
    with _lock:
        models = list(_cache.values())
        _cache.clear()
        _holds.clear()
        _anonymous.clear()
    for model in models:
        model.release()


def release_model(model: Union[ModelHandle, InferenceModel]) -> None:
    """Give back a hold: a handle's (idempotent), or one anonymous hold taken by ``load_model``.
    A model held only through handles is never freed by this call with the bare model."""
    if isinstance(model, ModelHandle):
        model.release()
        return
    with _lock:
        key = id(model)
        if _anonymous.get(key, 0) <= 0:
            if key in _holds:
                log.debug("DWPose: release_model(%s) ignored: held only through handles", getattr(model, "path", model))
                return
            last = True  # not (or no longer) in the cache: free what the caller gave us
        else:
            _anonymous[key] -= 1
            last = _drop_hold(model)
    if last:
        model.release()
