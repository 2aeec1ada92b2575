"""ONNX initializers onto our fused modules.

The architecture is recognised from the graph (input and output contract, stem
width, RTMW's upsampling / pixel-shuffle nodes: :func:`spec_from_onnx`); initializers are matched to our parameters in
execution order — both sides record the order in which the network uses its
weights (:func:`onnx_parameters`, :func:`parameter_order`) — with kinds and
shapes checked one by one, then the layer wiring is compared
(:func:`parameter_wiring`, :func:`onnx_wiring`). The published ONNX files are
already in fused form (the exporter folds BatchNorm).

A graph that does not fit raises :class:`ArchitectureMismatch` naming the first
tensor that differs; one that is no RTMPose/YOLOX graph raises
:class:`WeightsFormatError`.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..checkpoints import onnx_file
from .rtmpose import VARIANTS as RTMPOSE_VARIANTS
from .rtmpose import RTMPoseSpec
from .weight_errors import ArchitectureMismatch, WeightsFormatError
from .yolox import VARIANTS as YOLOX_VARIANTS
from .yolox import YOLOXSpec

Spec = Union[RTMPoseSpec, YOLOXSpec]

# Stem width -> variant: first conv's output channels (shared with checkpoint_weights).
_RTMPOSE_BY_STEM = {int(64 * w // 2): name for name, (_, w) in RTMPOSE_VARIANTS.items()}
_YOLOX_BY_STEM = {int(64 * w): name for name, (_, w) in YOLOX_VARIANTS.items()}


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
        if isinstance(x_dims[1], int):
            keypoints = x_dims[1]
        else:  # outputs without static shapes: the last conv (RTMCC final_layer / RTMW final_layer2) has K maps
            last_conv = [n for n in graph.node if n.op_type == "Conv" and n.input[1] in arrays][-1]
            keypoints = int(arrays[last_conv.input[1]].shape[0])
        split = x_dims[2] / w if isinstance(x_dims[2], int) else 2.0
        return RTMPoseSpec(variant, (h, w), keypoints, split, arch=_pose_arch(graph))
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


# RTMW's neck upsamples (Resize / Upsample) and its head pixel-shuffles (DepthToSpace, or
# Reshape/Transpose in older exports); RTMPose's plain backbone + RTMCC head has none of these.
_RTMW_OPS = ("Resize", "Upsample", "DepthToSpace")


def _pose_arch(graph) -> str:
    """"rtmw" when the SimCC graph has RTMW's neck, else "rtmpose"."""
    return "rtmw" if any(node.op_type in _RTMW_OPS for node in graph.node) else "rtmpose"


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
