"""Weights from the files users have, onto the fused modules: the entry points.

Our modules are built in *fused* form: every convolution carries its
BatchNorm folded into weight and bias. That is exactly what the published ONNX
files contain (the exporter folds BatchNorm), and training checkpoints are
folded once at load.

* ONNX (``.onnx``): :mod:`.onnx_weights` recognises the architecture from the
  graph and maps its initializers onto our parameters in execution order.
* mmpose / DWPose / YOLOX training checkpoints (``.pth``, ``.pt``, ``.ckpt``):
  :mod:`.checkpoint_weights` reads them without running pickled code,
  normalises the keys and folds BatchNorm.
* ``.safetensors``: our own cache of a converted checkpoint (with the
  architecture in its metadata), or an mmpose state dict saved as safetensors.

The converted ("fused") copy of a checkpoint is kept in the per-user cache
(``<cache>/fused/<stem>-<16 hex of its path>.fused.safetensors``, see
:mod:`dwpose_core.checkpoints.derived_cache`), never beside the user's file: a
model folder may be read-only or belong to another tool. It is bounded and
evicted with the other derived files (``DWPOSE_CACHE_LIMIT``).

Whatever the source, a file that does not fit the architecture raises
:class:`ArchitectureMismatch` naming the first tensor that differs. The names
moved to those two modules are re-exported here, so ``from
dwpose_core.torch_models.loading import X`` keeps working.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Union

import torch

from ..checkpoints import derived_cache, onnx_file
from .checkpoint_weights import (  # noqa: F401  re-exported: moved from this module
    DEFAULT_BN_EPS,
    check_state_dict,
    checkpoint_spec,
    fold_batchnorm,
    normalise_keys,
    spec_from_state_dict,
    state_dict_from_checkpoint,
)
from .onnx_weights import (  # noqa: F401  re-exported: moved from this module
    Spec,
    onnx_parameters,
    onnx_wiring,
    parameter_order,
    parameter_wiring,
    spec_from_onnx,
    state_dict_from_onnx,
)
from .rtmpose import RTMPoseSpec
from .weight_errors import ArchitectureMismatch, WeightsFormatError  # noqa: F401  this module's errors
from .yolox import YOLOXSpec

log = logging.getLogger("dwpose")

from ..checkpoints.suffixes import CHECKPOINT_SUFFIXES  # noqa: E402 - one list of model file suffixes
CACHE_SUFFIX = ".fused.safetensors"


# ----------------------------------------------------------------------------- specs

def spec_to_json(spec: Spec) -> str:
    return json.dumps({"kind": spec.kind, **asdict(spec)})


def spec_from_json(text: str) -> Spec:
    data = json.loads(text)
    kind = data.pop("kind")
    data["input_hw"] = tuple(data["input_hw"])
    return RTMPoseSpec(**data) if kind == "rtmpose" else YOLOXSpec(**data)


# ----------------------------------------------------------------------------- safetensors cache

def cache_path(path: Path) -> Path:
    """Where the fused copy of ``path`` lives: the per-user cache, keyed by the source's absolute path."""
    import hashlib

    try:
        where = str(Path(path).resolve())
    except (OSError, RuntimeError):
        where = str(Path(path).absolute())
    tag = hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return derived_cache.cache_dir() / "fused" / f"{Path(path).stem}-{tag}{CACHE_SUFFIX}"


def _source_stamp(path: Path) -> dict[str, str]:
    st = path.stat()
    return {"source_name": path.name, "source_size": str(st.st_size), "source_mtime_ns": str(st.st_mtime_ns)}


def read_cache(path: Path):
    """Our cached conversion of ``path`` if it exists and is current, else None."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    cached = cache_path(path)
    if not cached.is_file():
        return None
    try:
        with safe_open(str(cached), "pt") as f:
            meta = f.metadata() or {}
        if any(meta.get(k) != v for k, v in _source_stamp(path).items()):
            return None
        hit = spec_from_json(meta["dwpose_spec"]), load_file(str(cached))
        derived_cache.used(cached)
        return hit
    except Exception as exc:  # a corrupt cache is rebuilt, never fatal
        log.debug("DWPose: ignoring unreadable cache %s (%s)", cached, exc)
        return None


def write_cache(path: Path, spec: Spec, state: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    cached = cache_path(path)
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp),
                  metadata={"dwpose_spec": spec_to_json(spec), **_source_stamp(path)})
        os.replace(tmp, cached)
    except OSError as exc:  # read-only cache folder: just skip the cache
        log.debug("DWPose: not caching %s (%s)", cached, exc)
        tmp.unlink(missing_ok=True)
        return
    derived_cache.admit(cached)


def state_dict_from_safetensors(path: Path) -> tuple[Spec, dict[str, torch.Tensor]]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    if "dwpose_spec" in meta:
        return spec_from_json(meta["dwpose_spec"]), state
    state = normalise_keys(state)
    spec = spec_from_state_dict(state, path.name)
    return spec, fold_batchnorm(state, DEFAULT_BN_EPS[spec.kind])


# ----------------------------------------------------------------------------- entry points

def recognise(path: Union[str, Path]):
    """The architecture in ``path`` if the torch backend can run it, else None (cheap: no weights built)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CHECKPOINT_SUFFIXES or suffix == ".safetensors":
        return True  # only the torch backend reads these; errors surface when loading
    if suffix != ".onnx" or not path.is_file():
        return None
    try:
        return spec_from_onnx(onnx_file.load(path), path.name)  # parsed once, shared with the weight mapping
    except Exception:  # not a graph we know (oracle models, other detectors, corrupt files)
        return None


def load_weights(path: Union[str, Path], cache: bool = True) -> tuple[Spec, dict[str, torch.Tensor]]:
    """(architecture, fused float32 state dict) for an ONNX, checkpoint or safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return state_dict_from_onnx(path)
    if suffix == ".safetensors":
        return state_dict_from_safetensors(path)
    if suffix in CHECKPOINT_SUFFIXES:
        if cache:
            hit = read_cache(path)
            if hit is not None:
                return hit
        spec, state = state_dict_from_checkpoint(path)
        check_state_dict(spec, state, path.name)
        if cache:
            write_cache(path, spec, state)
        return spec, state
    raise WeightsFormatError(f"{path.name}: unknown model file type {suffix!r}; the torch backend reads "
                             ".onnx, .pth/.pt/.ckpt checkpoints and .safetensors.")


def build_network(spec: Spec, state: dict[str, torch.Tensor], source: str = "weights") -> torch.nn.Module:
    """Module for ``spec`` holding ``state`` (float32, CPU, eval mode, no grad)."""
    check_state_dict(spec, state, source)
    state = {k: v.float().contiguous() for k, v in state.items()}
    try:  # build without allocating/initialising weights that are replaced at once (torch >= 2.1)
        with torch.device("meta"):
            model = spec.build()
        model.load_state_dict(state, strict=True, assign=True)
    except TypeError:
        model = spec.build()
        model.load_state_dict(state, strict=True)
    model.eval().requires_grad_(False)
    return model


def load_network(path: Union[str, Path], cache: bool = True) -> torch.nn.Module:
    """Build and load the network stored in ``path`` (ONNX, checkpoint or safetensors)."""
    spec, state = load_weights(path, cache=cache)
    return build_network(spec, state, Path(path).name)
