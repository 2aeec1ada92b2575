"""Does a file have the structure of the model it should be? Never runs the model, never executes a pickle.

* ONNX: the graph parses (once per process, shared with the torch backend: see onnx_file), every
  initializer holds the bytes its shape declares (onnx_file.initializer_problems), and it meets the
  registry's input/output contract for its kind.
* ``.pth``: read by the same restricted reader the torch loader uses (safe_pickle): a file this
  check passes is a file the loader reads, and the other way round. Its weights must be RTMPose
  (pose) or YOLOX (detector); with torch installed, every tensor name and shape is checked against
  the architecture exactly as loading will, and the weights' bytes are read once (CRC).
* ``.safetensors``: the JSON header is read.

Each check also says what the file *looks like*, so a pose model given as the detector (or the
other way round) is named as such rather than reported as a broken detector.
"""
from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path
from typing import Optional

from . import registry
from .registry import DETECTOR, POSE, ModelSpec, onnx_contract

ONNX_SUFFIXES = {".onnx"}
PTH_SUFFIXES = set(registry.CHECKPOINT_SUFFIXES)
SAFETENSORS_SUFFIXES = set(registry.SAFETENSORS_SUFFIXES)
# Bump when a check changes, so verdicts remembered by an older version are not reused.
CHECK_VERSION = 3


def file_format(path: Path, spec: Optional[ModelSpec] = None) -> str:
    if spec is not None and spec.format in ("onnx", "pth"):
        return spec.format
    suffix = path.suffix.lower()
    if path.name.lower().endswith(".torchscript.pt"):
        return "torchscript"
    if suffix in ONNX_SUFFIXES:
        return "onnx"
    if suffix in PTH_SUFFIXES:
        return "pth"
    if suffix in SAFETENSORS_SUFFIXES:
        return "safetensors"
    return "unknown"


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def check_structure(path: Path, spec: Optional[ModelSpec] = None,
                    kind: Optional[str] = None) -> tuple[list[str], Optional[str]]:
    """(problems, kind the file is or looks like); an empty list means it looks right."""
    kind = kind or (spec.kind if spec is not None else None)
    fmt = file_format(path, spec)
    if fmt == "onnx":
        return _check_onnx(path, spec, kind)
    if fmt == "pth":
        return _check_pth(path, kind)
    if fmt == "safetensors":
        return _check_safetensors(path, kind), kind or POSE
    if fmt == "torchscript":
        return ["it is a TorchScript file, which contains code that runs when loaded; use an .onnx or "
                ".pth model instead"], kind
    return [f"{path.suffix or 'a file without extension'} is not a model format this extension reads "
            "(.onnx, .pth, .safetensors)"], kind


def _wrong_kind(looks: str, wanted: str, evidence: str) -> str:
    return f"it is a {looks} model ({evidence}), not a {wanted} model"


# ---------------------------------------------------------------- ONNX

def _dims(value_info) -> Optional[tuple[Optional[int], ...]]:
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None  # shape not recorded: nothing to compare
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                 for d in tensor.shape.dim)


def _shape_text(shape) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _shape_mismatch(actual, expected) -> bool:
    if actual is None:
        return False
    if len(actual) != len(expected):
        return True
    return any(e is not None and a is not None and a != e for a, e in zip(actual, expected))


def _onnx_looks_like(outputs: dict) -> tuple[Optional[str], str]:
    """(kind, evidence) from a graph's outputs: SimCC pairs are pose, one [N, anchors, 5+classes] is YOLOX."""
    text = ", ".join(f"{n} {_shape_text(s) if s is not None else '?'}" for n, s in outputs.items()) or "none"
    if {"simcc_x", "simcc_y"} <= set(outputs):
        return POSE, f"its outputs are {text}"
    ranks = [len(s) if s is not None else None for s in outputs.values()]
    if len(outputs) == 2 and ranks == [3, 3]:
        return POSE, f"its outputs are {text}, a SimCC pair"
    if len(outputs) == 1 and ranks == [3]:
        return DETECTOR, f"its only output is {text}, where a pose model has simcc_x and simcc_y"
    return None, f"its outputs are {text}"


def _check_onnx(path: Path, spec: Optional[ModelSpec], kind: Optional[str]):
    try:
        from ..checkpoints import onnx_file

        model = onnx_file.load(path)
    except ImportError:
        return ["the 'onnx' package is not installed, so the graph cannot be checked (pip install onnx)"], kind
    except onnx_file.OnnxParseError as exc:
        return [f"the ONNX graph does not load ({exc}); the file is truncated, damaged or not ONNX"], kind
    graph = model.graph
    damaged = onnx_file.initializer_problems(model)
    if damaged:
        return damaged, kind
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    outputs = {o.name: _dims(o) for o in graph.output}
    looks, evidence = _onnx_looks_like(outputs)
    if kind is None:
        kind = looks or DETECTOR
    elif looks is not None and looks != kind:
        return [_wrong_kind(looks, kind, evidence)], looks
    contract = onnx_contract(spec, kind)
    if contract.positional and not set(contract.outputs) <= set(outputs):
        # Named differently: take the graph's outputs in order (how common tools run such files).
        outputs = dict(zip(contract.outputs, outputs.values()))
    label = f"a {kind} model"
    problems: list[str] = []
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        problems.append(f"it has {len(inputs)} graph inputs ({names}); {label} has exactly one image input")
    else:
        inp = inputs[0]
        if contract.input_name is not None and inp.name != contract.input_name:
            problems.append(f"its input is named {inp.name!r}, expected {contract.input_name!r}")
        shape = _dims(inp)
        if _shape_mismatch(shape, contract.input_shape):
            problems.append(f"its input {inp.name!r} has shape {_shape_text(shape)}, "
                            f"expected {_shape_text(contract.input_shape)}")
    for name, expected in contract.outputs.items():
        if name == "*":
            if not any(s is None or len(s) == len(expected) for s in outputs.values()):
                problems.append(f"none of its outputs ({', '.join(outputs) or 'none'}) has rank {len(expected)}")
            continue
        if name not in outputs:
            problems.append(f"it has no output named {name!r} (outputs: {', '.join(outputs) or 'none'})")
        elif _shape_mismatch(outputs[name], expected):
            problems.append(f"its output {name!r} has shape {_shape_text(outputs[name])}, "
                            f"expected {_shape_text(expected)}")
    return problems, kind


# ---------------------------------------------------------------- .pth

def _plain_keys(state: dict) -> list[str]:
    keys = [str(k) for k in state]
    if any(k.startswith("student.") for k in keys):
        keys = [k[len("student."):] for k in keys if k.startswith("student.")]
    out = []
    for k in keys:
        while k.startswith("module."):
            k = k[len("module."):]
        out.append(k)
    return out


def _pth_looks_like(keys: list[str]) -> Optional[str]:
    if "backbone.stem.0.conv.weight" in keys and "head.cls_x.weight" in keys:
        return POSE
    if "backbone.backbone.stem.conv.conv.weight" in keys:
        return DETECTOR
    return None


def _check_pth(path: Path, kind: Optional[str]) -> tuple[list[str], Optional[str]]:
    from ..checkpoints.safe_pickle import (
        CheckpointArchive,
        CheckpointFormatError,
        LazyTensor,
        describe_root,
        find_state_dict,
    )

    prefix = f"{path.name}: "

    def text(exc: Exception) -> str:
        msg = str(exc)
        return msg[len(prefix):] if msg.startswith(prefix) else msg

    try:
        with CheckpointArchive(path) as ckpt:
            if ckpt.torchscript:
                return ["it is a TorchScript archive (it contains code), not a weights checkpoint"], kind
            state = find_state_dict(ckpt.root)
            if state is None:
                return [f"it has no state_dict (its top level is {describe_root(ckpt.root)}), where mmpose and "
                        "YOLOX checkpoints keep their weights"], kind
            keys = _plain_keys(state)
            looks = _pth_looks_like(keys)
            if looks is None:
                wanted = "an RTMPose/DWPose (backbone.stem.*, head.cls_x.*)" if kind != DETECTOR else "a YOLOX"
                return [f"it has no {wanted} weights (keys start: {', '.join(keys[:3]) or 'none'})"], kind
            if kind is not None and looks != kind:
                evidence = "its weights are RTMPose's" if looks == POSE else "its weights are YOLOX's"
                return [_wrong_kind(looks, kind, evidence)], looks
            if torch_available():
                from ..torch_models.loading import checkpoint_spec

                try:
                    checkpoint_spec(state, path.name)
                except ValueError as exc:  # ArchitectureMismatch, WeightsFormatError
                    return [text(exc)], looks
            lazy = [v.storage for v in state.values() if isinstance(v, LazyTensor)]
            ckpt.check_storages_readable({s.key: s for s in lazy}.values())
    except CheckpointFormatError as exc:
        msg = text(exc)
        return [msg[len("cannot read the checkpoint: "):] if msg.startswith("cannot read the checkpoint: ")
                else msg], kind
    return [], looks


# ---------------------------------------------------------------- safetensors

def _check_safetensors(path: Path, kind: Optional[str]) -> list[str]:
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100 * 1024 * 1024:
                return ["its safetensors header length is implausible; the file is damaged"]
            header = json.loads(f.read(n))
    except (struct.error, ValueError, OSError) as exc:
        return [f"its safetensors header does not read ({exc}); the file is truncated or damaged"]
    if not isinstance(header, dict):
        return ["its safetensors header is not a table of tensors; the file is damaged"]
    keys = [k for k in header if k != "__metadata__"]
    if (kind or POSE) == POSE and not any("backbone.stem" in k for k in keys):
        return ["it has no 'backbone.stem.*' weights, so it is not an RTMPose/DWPose checkpoint"]
    return []
