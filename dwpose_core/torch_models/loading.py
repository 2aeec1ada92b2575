"""Weights from the files users have, onto the fused modules.

Our modules are built in *fused* form: every convolution carries its
BatchNorm folded into weight and bias. That is exactly what the published ONNX
files contain (the exporter folds BatchNorm), and training checkpoints are
folded once at load (:func:`fold_batchnorm`).

* ONNX (``.onnx``): the architecture is recognised from the graph (input and
  output contract, stem width); initializers are matched to our parameters in
  execution order (both sides record the order in which the network uses its
  weights) with kinds and shapes checked one by one.
* mmpose / DWPose / YOLOX training checkpoints (``.pth``, ``.pt``, ``.ckpt``):
  read with :mod:`.pth_reader` (no pickled code runs), keys normalised
  (``student.``/``module.`` prefixes, teacher weights and data preprocessors
  dropped), BatchNorm folded.
* ``.safetensors``: our own cache of a converted checkpoint (with the
  architecture in its metadata), or an mmpose state dict saved as safetensors.

Whatever the source, a file that does not fit the architecture raises
:class:`ArchitectureMismatch` naming the first tensor that differs.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..hub import onnx_file
from .pth_reader import Checkpoint, CheckpointFormatError, LazyTensor, find_state_dict
from ..hub.safe_pickle import describe_root
from .rtmpose import VARIANTS as RTMPOSE_VARIANTS
from .rtmpose import RTMPoseSpec
from .yolox import VARIANTS as YOLOX_VARIANTS
from .yolox import YOLOXSpec

log = logging.getLogger("dwpose")

Spec = Union[RTMPoseSpec, YOLOXSpec]
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
# BatchNorm eps is not stored in checkpoints: mmpose's RTMPose configs use SyncBN's
# default (1e-5); Megvii's YOLOX sets 1e-3 on every BatchNorm.
DEFAULT_BN_EPS = {"rtmpose": 1e-5, "yolox": 1e-3}
CACHE_SUFFIX = ".fused.safetensors"

# Stem width -> variant: first conv's output channels.
_RTMPOSE_BY_STEM = {int(64 * w // 2): name for name, (_, w) in RTMPOSE_VARIANTS.items()}
_YOLOX_BY_STEM = {int(64 * w): name for name, (_, w) in YOLOX_VARIANTS.items()}


class WeightsFormatError(ValueError):
    """The file is not a model this backend can read; the message says what it found."""


class ArchitectureMismatch(ValueError):
    """The weights do not fit the architecture; the message names the first differing tensor."""


# ----------------------------------------------------------------------------- specs

def spec_to_json(spec: Spec) -> str:
    return json.dumps({"kind": spec.kind, **asdict(spec)})


def spec_from_json(text: str) -> Spec:
    data = json.loads(text)
    kind = data.pop("kind")
    data["input_hw"] = tuple(data["input_hw"])
    return RTMPoseSpec(**data) if kind == "rtmpose" else YOLOXSpec(**data)


# ----------------------------------------------------------------------------- ONNX

def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def _initializers(graph) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        # Some exporters keep weights as Constant nodes; identical initializers are
        # deduplicated behind Identity nodes.
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            arrays[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in arrays:
            arrays[node.output[0]] = arrays[node.input[0]]
    return arrays


def spec_from_onnx(model, name: str = "model") -> Spec:
    """Recognise RTMPose or YOLOX from the graph's inputs, outputs and stem convolution."""
    graph = model.graph
    init_names = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in init_names]
    if len(inputs) != 1 or len(_dims(inputs[0])) != 4:
        raise WeightsFormatError(f"{name}: expected one image input (N, 3, H, W); found "
                                 f"{[(i.name, _dims(i)) for i in inputs]}.")
    _, _, h, w = _dims(inputs[0])
    if not (isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0):
        raise WeightsFormatError(f"{name}: the input size must be fixed in the graph; found {_dims(inputs[0])}.")
    outputs = {o.name: _dims(o) for o in graph.output}
    arrays = _initializers(graph)
    first_conv = next((n for n in graph.node if n.op_type == "Conv"), None)
    if first_conv is None or first_conv.input[1] not in arrays:
        raise WeightsFormatError(f"{name}: no convolution with constant weights found; not an RTMPose/YOLOX graph.")
    stem = arrays[first_conv.input[1]].shape
    ranks3 = [d for d in outputs.values() if len(d) == 3]
    if len(outputs) == 2 and len(ranks3) == 2 and stem[1] == 3:
        x_dims, y_dims = outputs.get("simcc_x"), outputs.get("simcc_y")
        if x_dims is None or y_dims is None:
            (x_dims, y_dims) = list(outputs.values())
        variant = _RTMPOSE_BY_STEM.get(stem[0])
        if variant is None:
            raise WeightsFormatError(f"{name}: RTMPose-like graph with an unknown stem width {stem[0]} "
                                     f"(known: {sorted(_RTMPOSE_BY_STEM)}).")
        keypoints = x_dims[1] if isinstance(x_dims[1], int) else 133
        split = x_dims[2] / w if isinstance(x_dims[2], int) else 2.0
        return RTMPoseSpec(variant, (h, w), keypoints, split)
    if len(outputs) == 1 and len(ranks3) == 1 and stem[1] == 12:
        (dims,) = ranks3
        variant = _YOLOX_BY_STEM.get(stem[0])
        if variant is None:
            raise WeightsFormatError(f"{name}: YOLOX-like graph with an unknown stem width {stem[0]} "
                                     f"(known: {sorted(_YOLOX_BY_STEM)}).")
        classes = dims[2] - 5 if isinstance(dims[2], int) else 80
        return YOLOXSpec(variant, (h, w), classes)
    raise WeightsFormatError(
        f"{name}: not an RTMPose (simcc_x/simcc_y) or YOLOX (one [N, anchors, 5+classes] output) graph; "
        f"outputs {outputs}, first conv weight {list(stem)}. The torch backend only runs those; "
        "use backend='onnxruntime' for other models.")


def onnx_parameters(graph) -> list[tuple[str, np.ndarray, str]]:
    """(kind, array, initializer name) for every weight the graph uses, in node order.

    Kinds: ``conv_w``/``conv_b`` (Conv inputs 1, 2), ``linear_w`` (MatMul/Gemm
    weight, as [out, in]) and ``tensor`` (a float Mul/Add operand of rank >= 1:
    ScaleNorm gains, the GAU's gamma/beta and residual scale). Rank-0 constants
    (python floats in the original code) are not parameters.
    """
    arrays = _initializers(graph)
    params: list[tuple[str, np.ndarray, str]] = []
    for node in graph.node:
        ins = list(node.input)
        if node.op_type == "Conv":
            weight = arrays.get(ins[1])
            if weight is None:
                raise WeightsFormatError(f"Conv node {node.name or node.output[0]} has non-constant weights.")
            params.append(("conv_w", weight, ins[1]))
            if len(ins) > 2 and ins[2]:
                params.append(("conv_b", arrays[ins[2]], ins[2]))
            else:
                params.append(("conv_b", np.zeros(weight.shape[0], weight.dtype), "(no bias)"))
        elif node.op_type == "MatMul" and ins[1] in arrays and arrays[ins[1]].ndim == 2:
            params.append(("linear_w", arrays[ins[1]].T, ins[1]))
        elif node.op_type == "Gemm" and ins[1] in arrays:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            weight = arrays[ins[1]]
            params.append(("linear_w", weight if trans_b else weight.T, ins[1]))
            if len(ins) > 2 and ins[2]:
                params.append(("tensor", arrays[ins[2]], ins[2]))
        elif node.op_type in ("Mul", "Add"):
            for name in ins:
                arr = arrays.get(name)
                if arr is not None and arr.ndim >= 1 and arr.dtype.kind == "f":
                    params.append(("tensor", arr, name))
    return params


def parameter_order(spec: Spec) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """(name, kind, shape) of our parameters in the order the forward pass first uses them."""
    return _trace(spec)[0]


def parameter_wiring(spec: Spec) -> tuple[frozenset, ...]:
    """For each conv/linear layer in execution order: the indices of the layers feeding its input."""
    return _trace(spec)[1]


def _flat_tensors(obj) -> list:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _flat_tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _flat_tensors(item)]
    return []


@lru_cache(maxsize=16)
def _trace(spec: Spec):
    """Run the module on the meta device (no memory, no compute) under a TorchFunctionMode that
    sees every weight as it is used, and which layers feed which (data provenance)."""
    from torch.overrides import TorchFunctionMode

    with torch.device("meta"):
        model = spec.build()
    names = {id(p): n for n, p in model.named_parameters()}
    order: list[tuple[str, str, tuple[int, ...]]] = []
    seen: set[str] = set()
    wiring: list[frozenset] = []
    provenance: dict[int, frozenset] = {}
    alive: list = []  # keeps traced tensors alive so that their ids stay unique

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            fname = getattr(func, "__name__", "")
            for pos, arg in enumerate(list(args) + list(kwargs.values())):
                name = names.get(id(arg))
                if name is None or name in seen:
                    continue
                seen.add(name)
                if fname == "conv2d":
                    kind = "conv_w" if pos == 1 else "conv_b"
                elif fname == "linear":
                    kind = "linear_w" if pos == 1 else "tensor"
                else:
                    kind = "tensor"
                order.append((name, kind, tuple(arg.shape)))
            result = func(*args, **kwargs)
            if fname in ("conv2d", "linear") and len(args) > 1 and id(args[1]) in names:
                wiring.append(provenance.get(id(args[0]), frozenset()))
                new = frozenset({len(wiring) - 1})
            else:
                inputs = [t for t in _flat_tensors((args, kwargs)) if id(t) not in names]
                new = frozenset().union(*(provenance.get(id(t), frozenset()) for t in inputs))
            for t in _flat_tensors(result):
                provenance[id(t)] = new
                alive.append(t)
            return result

    with Recorder(), torch.no_grad():
        model(torch.empty(1, 3, *spec.input_hw, device="meta"))
    missing = [n for n in names.values() if n not in seen]
    if missing:  # a parameter the forward pass never touches would make ONNX matching ambiguous
        raise RuntimeError(f"parameters unused in forward: {missing[:5]}")
    return tuple(order), tuple(wiring)


def onnx_wiring(graph) -> list[frozenset]:
    """For each Conv / weight MatMul / Gemm node in node order: indices of such nodes feeding its input."""
    arrays = _initializers(graph)
    wiring: list[frozenset] = []
    provenance: dict[str, frozenset] = {}
    for node in graph.node:
        ins = list(node.input)
        parametric = (node.op_type in ("Conv", "Gemm") and len(ins) > 1 and ins[1] in arrays) or (
            node.op_type == "MatMul" and ins[1] in arrays and arrays[ins[1]].ndim == 2)
        if parametric:
            wiring.append(provenance.get(ins[0], frozenset()))
            new = frozenset({len(wiring) - 1})
        else:
            new = frozenset().union(*(provenance.get(i, frozenset()) for i in ins))
        for out in node.output:
            provenance[out] = new
    return wiring


def _same_shape(ours: tuple[int, ...], arr: np.ndarray) -> bool:
    if tuple(arr.shape) == ours:
        return True
    squeeze = lambda s: tuple(d for d in s if d != 1)  # noqa: E731 (broadcast-equivalent shapes)
    return squeeze(ours) == squeeze(arr.shape) and int(np.prod(ours)) == arr.size


def state_dict_from_onnx(path: Path) -> tuple[Spec, dict[str, torch.Tensor]]:
    try:
        model = onnx_file.load(path)  # shared with the hub's structure check and recognise()
    except onnx_file.OnnxParseError as exc:
        raise WeightsFormatError(f"{path.name}: cannot be read as ONNX ({exc}); the file may be truncated. "
                                 "Delete it and download it again.") from None
    try:
        return _map_onnx(path, model)
    finally:
        onnx_file.release(path)  # the weights are taken: the parsed copy need not stay in memory


def _map_onnx(path: Path, model) -> tuple[Spec, dict[str, torch.Tensor]]:
    spec = spec_from_onnx(model, path.name)
    found = onnx_parameters(model.graph)
    expected = parameter_order(spec)
    state: dict[str, torch.Tensor] = {}
    for i, (name, kind, shape) in enumerate(expected):
        if i >= len(found):
            raise ArchitectureMismatch(
                f"{path.name} does not match {spec.title}: the graph ends after {len(found)} weight tensors; "
                f"the first one missing is `{name}` ({kind}, shape {list(shape)}).")
        fkind, arr, fname = found[i]
        if fkind != kind or not _same_shape(shape, arr):
            raise ArchitectureMismatch(
                f"{path.name} does not match {spec.title}: weight #{i} should be `{name}` ({kind}, shape "
                f"{list(shape)}) but the graph has `{fname}` ({fkind}, shape {list(arr.shape)}).")
        state[name] = torch.from_numpy(np.array(arr, dtype=np.float32).reshape(shape))
    if len(found) > len(expected):
        _, arr, fname = found[len(expected)]
        raise ArchitectureMismatch(
            f"{path.name} does not match {spec.title}: the graph has {len(found) - len(expected)} weight tensors "
            f"more than the architecture, the first being `{fname}` (shape {list(arr.shape)}).")
    # Shapes alone cannot tell apart two same-shaped layers on one input (a CSP layer's short and
    # main branches): check that every layer is fed by the same layers as in our module.
    layers = [name for name, kind, _ in expected if kind in ("conv_w", "linear_w")]
    for i, (ours, theirs) in enumerate(zip(parameter_wiring(spec), onnx_wiring(model.graph))):
        if ours != theirs:
            raise ArchitectureMismatch(
                f"{path.name} does not match {spec.title}: the graph feeds `{layers[i]}` from other layers "
                f"({sorted(layers[j] for j in theirs)[:3]}) than the architecture "
                f"({sorted(layers[j] for j in ours)[:3]}); its nodes may not be in execution order.")
    return spec, state


# ----------------------------------------------------------------------------- checkpoints

def _pick_state_dict(root, name: str) -> dict:
    state = find_state_dict(root)  # the same rule the hub's structure check applies
    if state is None:
        raise WeightsFormatError(f"{name}: no state_dict in this checkpoint (top level is {describe_root(root)}); "
                                 "expected an mmpose/mmengine or YOLOX training checkpoint.")
    return state


def normalise_keys(state: dict) -> dict:
    """Strip wrapper prefixes; keep the student of a distillation checkpoint; drop non-network entries."""
    keys = list(state)
    if any(k.startswith("student.") for k in keys):
        state = {k[len("student."):]: v for k, v in state.items() if k.startswith("student.")}
    out = {}
    for key, value in state.items():
        while key.startswith("module."):
            key = key[len("module."):]
        if key.startswith(("teacher.", "data_preprocessor.")) or key.endswith("num_batches_tracked"):
            continue
        out[key] = value
    return out


def fold_batchnorm(state: dict[str, torch.Tensor], eps: float) -> dict[str, torch.Tensor]:
    """Fold every ``<prefix>.bn.*`` into ``<prefix>.conv.{weight,bias}`` (computed in float64)."""
    out = dict(state)
    for key in [k for k in state if k.endswith(".bn.weight")]:
        prefix = key[: -len("bn.weight")]
        parts = [prefix + p for p in ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var")]
        if any(p not in state for p in parts):
            missing = next(p for p in parts if p not in state)
            raise ArchitectureMismatch(f"BatchNorm at `{prefix}bn` cannot be folded: `{missing}` is missing.")
        w, gamma, beta, mean, var = (state[p].double() for p in parts)
        if w.shape[0] != gamma.shape[0]:
            raise ArchitectureMismatch(f"`{parts[0]}` has {w.shape[0]} output channels but its BatchNorm "
                                       f"`{prefix}bn` has {gamma.shape[0]}.")
        bias = state.get(prefix + "conv.bias")
        bias = bias.double() if bias is not None else torch.zeros_like(mean)
        scale = gamma / torch.sqrt(var + eps)
        out[prefix + "conv.weight"] = (w * scale.reshape(-1, 1, 1, 1)).float()
        out[prefix + "conv.bias"] = ((bias - mean) * scale + beta).float()
        for p in parts[1:]:
            del out[p]
    return out


def _dim(state: dict, key: str, axis: int, name: str) -> int:
    shape = tuple(getattr(state.get(key), "shape", ()))
    if len(shape) <= axis:
        raise WeightsFormatError(f"{name}: `{key}` is {'missing' if key not in state else f'of shape {list(shape)}'}"
                                 "; not an RTMPose or YOLOX checkpoint.")
    return int(shape[axis])


def spec_from_state_dict(state: dict, name: str = "checkpoint") -> Spec:
    if "head.cls_x.weight" in state and "backbone.stem.0.conv.weight" in state:
        stem = _dim(state, "backbone.stem.0.conv.weight", 0, name)
        variant = _RTMPOSE_BY_STEM.get(stem)
        if variant is None:
            raise WeightsFormatError(f"{name}: RTMPose checkpoint with an unknown stem width {stem}.")
        # mlp.1 maps the (H/32 * W/32) tokens; cls_x/cls_y have W*k and H*k bins (k = split ratio).
        bins_x, bins_y = _dim(state, "head.cls_x.weight", 0, name), _dim(state, "head.cls_y.weight", 0, name)
        tokens = _dim(state, "head.mlp.1.weight", 1, name)
        split = _split_ratio(bins_x, bins_y, tokens)
        if split is None:
            raise WeightsFormatError(f"{name}: cannot infer the input size from cls_x {bins_x}, cls_y {bins_y}, "
                                     f"{tokens} tokens.")
        keypoints = _dim(state, "head.final_layer.weight", 0, name)
        return RTMPoseSpec(variant, (round(bins_y / split), round(bins_x / split)), keypoints, split)
    stem_key = "backbone.backbone.stem.conv.conv.weight"
    if stem_key in state:
        stem = _dim(state, stem_key, 0, name)
        variant = _YOLOX_BY_STEM.get(stem)
        if variant is None:
            raise WeightsFormatError(f"{name}: YOLOX checkpoint with an unknown stem width {stem}.")
        classes = _dim(state, "head.cls_preds.0.weight", 0, name)
        return YOLOXSpec(variant, (416, 416) if variant == "tiny" else (640, 640), classes)
    sample = ", ".join(list(state)[:4])
    raise WeightsFormatError(f"{name}: neither an RTMPose nor a YOLOX state dict (keys start: {sample}).")


def _split_ratio(bins_x: int, bins_y: int, tokens: int):
    for split in (2.0, 1.0, 1.5, 2.5, 3.0, 4.0):
        h, w = bins_y / split, bins_x / split
        if h == int(h) and w == int(w) and (int(h) // 32) * (int(w) // 32) == tokens:
            return split
    return None


def state_dict_from_checkpoint(path: Path) -> tuple[Spec, dict[str, torch.Tensor]]:
    try:
        with Checkpoint(path) as ckpt:
            raw = _pick_state_dict(ckpt.root, path.name)
            checkpoint_spec(raw, path.name)  # names and shapes first: refuse a misfit before reading data
            state = {k: ckpt.tensor(v) for k, v in raw.items() if isinstance(v, LazyTensor)}
    except CheckpointFormatError as exc:
        raise WeightsFormatError(str(exc)) from None
    state = normalise_keys(state)
    spec = spec_from_state_dict(state, path.name)
    return spec, fold_batchnorm({k: v.float() for k, v in state.items()}, DEFAULT_BN_EPS[spec.kind])


class _Shape:
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(shape)


def checkpoint_spec(raw_state: dict, name: str = "checkpoint") -> Spec:
    """The architecture of a checkpoint's (lazy) state dict, checked tensor by tensor against it by name
    and shape, as loading will after BatchNorm folding; no tensor data is needed. Raises
    WeightsFormatError / ArchitectureMismatch naming the file and the first tensor that differs."""
    state = normalise_keys({k: _Shape(v.shape) for k, v in raw_state.items() if isinstance(v, LazyTensor)})
    spec = spec_from_state_dict(state, name)
    folded = dict(state)
    for key in [k for k in state if k.endswith(".bn.weight")]:
        prefix = key[: -len("bn.weight")]
        conv = state.get(prefix + "conv.weight")
        if conv is None or len(conv.shape) != 4:
            raise ArchitectureMismatch(f"{name}: BatchNorm at `{prefix}bn` has no 4-d `{prefix}conv.weight`.")
        for part in ("bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"):
            got = state.get(prefix + part)
            if got is None or got.shape != (conv.shape[0],):
                raise ArchitectureMismatch(
                    f"{name}: `{prefix}{part}` is {'missing' if got is None else list(got.shape)}; "
                    f"`{prefix}conv.weight` needs [{conv.shape[0]}].")
            del folded[prefix + part]
        folded[prefix + "conv.bias"] = _Shape((conv.shape[0],))
    check_state_dict(spec, folded, name)
    return spec


# ----------------------------------------------------------------------------- safetensors cache

def cache_path(path: Path) -> Path:
    return path.with_name(path.stem + CACHE_SUFFIX)


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
        return spec_from_json(meta["dwpose_spec"]), load_file(str(cached))
    except Exception as exc:  # a corrupt cache is rebuilt, never fatal
        log.debug("DWPose: ignoring unreadable cache %s (%s)", cached, exc)
        return None


def write_cache(path: Path, spec: Spec, state: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    cached = cache_path(path)
    tmp = cached.with_name(cached.name + f".{os.getpid()}.tmp")
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp),
                  metadata={"dwpose_spec": spec_to_json(spec), **_source_stamp(path)})
        os.replace(tmp, cached)
    except OSError as exc:  # read-only model folder: just skip the cache
        log.debug("DWPose: not caching %s (%s)", cached, exc)
        tmp.unlink(missing_ok=True)


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


def check_state_dict(spec: Spec, state: dict[str, torch.Tensor], source: str) -> None:
    """Raise :class:`ArchitectureMismatch` naming the first tensor that is missing, extra or mis-shaped."""
    expected = {name: shape for name, _, shape in parameter_order(spec)}
    for name, shape in expected.items():
        if name not in state:
            raise ArchitectureMismatch(f"{source} does not match {spec.title}: tensor `{name}` "
                                       f"(shape {list(shape)}) is missing.")
        if tuple(state[name].shape) != shape:
            raise ArchitectureMismatch(f"{source} does not match {spec.title}: tensor `{name}` has shape "
                                       f"{list(state[name].shape)}, the architecture needs {list(shape)}.")
    extra = [k for k in state if k not in expected]
    if extra:
        raise ArchitectureMismatch(f"{source} does not match {spec.title}: unexpected tensor `{extra[0]}` "
                                   f"(shape {list(state[extra[0]].shape)}) and {len(extra) - 1} more.")


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
