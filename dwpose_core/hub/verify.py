"""Is this file the model it claims to be? Size, SHA-256 and a structural check.

The structural check never runs the model and never unpickles anything: an
ONNX file must parse and have the registry's input/output contract; a .pth
checkpoint's pickle is read opcode by opcode (see pth_inspect); a
.safetensors file's JSON header is read. ``strict`` decides what a size or
hash difference means: for a file we (or huggingface_hub) downloaded it is
corruption; for a file a user placed by hand it is a warning, because
fine-tuned variants exist.
"""
from __future__ import annotations

import hashlib
import json
import logging
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .pth_inspect import PthFormatError, inspect_pth
from .registry import DETECTOR, POSE, ModelSpec, onnx_contract

log = logging.getLogger("dwpose.hub")

ONNX_SUFFIXES = {".onnx"}
PTH_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin"}
SAFETENSORS_SUFFIXES = {".safetensors"}


@dataclass
class VerifyResult:
    path: Path
    problems: list[str] = field(default_factory=list)  # any problem = do not load
    warnings: list[str] = field(default_factory=list)  # usable, but not the official file
    sha256: Optional[str] = None  # when it was computed
    kind: Optional[str] = None  # detector / pose, as the file's structure says

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return "; ".join(self.problems or self.warnings) or "ok"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


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


# ---------------------------------------------------------------- structure

def check_structure(path: Path, spec: Optional[ModelSpec] = None,
                    kind: Optional[str] = None) -> tuple[list[str], Optional[str]]:
    """(problems, kind found) for the file's structure; an empty list means it looks right."""
    kind = kind or (spec.kind if spec is not None else None)
    fmt = file_format(path, spec)
    if fmt == "onnx":
        return _check_onnx(path, spec, kind)
    if fmt == "pth":
        return _check_pth(path, spec, kind), kind or POSE
    if fmt == "safetensors":
        return _check_safetensors(path, kind), kind or POSE
    if fmt == "torchscript":
        return ["it is a TorchScript file, which contains code that runs when loaded; use an .onnx or "
                ".pth model instead"], kind
    return [f"{path.suffix or 'a file without extension'} is not a model format this extension reads "
            "(.onnx, .pth, .safetensors)"], kind


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


def _check_onnx(path: Path, spec: Optional[ModelSpec], kind: Optional[str]):
    try:
        import onnx
    except ImportError:
        return ["the 'onnx' package is not installed, so the graph cannot be checked (pip install onnx)"], kind
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends: truncated or not ONNX
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [f"the ONNX graph does not load ({text}); the file is truncated, damaged or not ONNX"], kind
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    outputs = {o.name: _dims(o) for o in graph.output}
    if kind is None:
        kind = POSE if "simcc_x" in outputs else DETECTOR
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


def _check_pth(path: Path, spec: Optional[ModelSpec], kind: Optional[str]) -> list[str]:
    try:
        info = inspect_pth(path)
    except PthFormatError as exc:
        return [str(exc)]
    if info.torchscript:
        return ["it is a TorchScript archive (it contains code), not a weights checkpoint"]
    problems = []
    refused = info.refused_globals
    if refused:
        shown = ", ".join(refused[:5]) + (" ..." if len(refused) > 5 else "")
        problems.append(f"its pickle would import {shown}, which a weights checkpoint never needs "
                        "(unpickling it would run code); refusing it")
    unknown = info.unknown_globals
    if unknown:
        log.info("DWPose: %s also names %s in its metadata; the restricted reader leaves these unloaded.",
                 path.name, ", ".join(unknown[:5]))
    if spec is not None and "state_dict" not in info.strings:
        problems.append("it has no 'state_dict' entry, where mmpose checkpoints keep their weights")
    if (kind or POSE) == POSE and not any("backbone.stem" in s for s in info.strings):
        problems.append("it has no 'backbone.stem.*' weights, so it is not an RTMPose/DWPose checkpoint")
    return problems


def _check_safetensors(path: Path, kind: Optional[str]) -> list[str]:
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100 * 1024 * 1024:
                return ["its safetensors header length is implausible; the file is damaged"]
            header = json.loads(f.read(n))
    except (struct.error, ValueError, OSError) as exc:
        return [f"its safetensors header does not read ({exc}); the file is truncated or damaged"]
    keys = [k for k in header if k != "__metadata__"]
    if (kind or POSE) == POSE and not any("backbone.stem" in k for k in keys):
        return ["it has no 'backbone.stem.*' weights, so it is not an RTMPose/DWPose checkpoint"]
    return []


# ---------------------------------------------------------------- identity + structure

def verify_file(path: Path, *, spec: Optional[ModelSpec] = None, kind: Optional[str] = None,
                expected_size: Optional[int] = None, expected_sha256: Optional[str] = None,
                strict: bool = False) -> VerifyResult:
    """Check ``path``; expected size/hash default to the registry's official values."""
    path = Path(path)
    result = VerifyResult(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        result.problems.append(f"it cannot be read ({exc})")
        return result
    if size == 0:
        result.problems.append("it is empty (0 bytes)")
        return result
    if expected_size is None and spec is not None:
        expected_size = spec.size
    if expected_sha256 is None and spec is not None:
        expected_sha256 = spec.sha256
    size_note = None
    if expected_size is not None and size != expected_size:
        size_note = f"it is {size:,} bytes but the official file is {expected_size:,} bytes"
        if size < expected_size:
            size_note += " (truncated?)"
        if strict:
            result.problems.append(size_note)
            return result

    problems, result.kind = check_structure(path, spec, kind)
    if problems:
        result.problems.extend(problems)
        if size_note:
            result.problems.append(size_note)
        return result
    if size_note:
        result.warnings.append(f"it differs from the official file ({size_note}); using it as a custom variant")
        return result
    if expected_sha256:
        result.sha256 = sha256_file(path)
        if result.sha256 != expected_sha256.lower():
            note = (f"its SHA-256 is {result.sha256[:12]}..., the official file's is "
                    f"{expected_sha256[:12]}...")
            if strict:
                result.problems.append(note + " (corrupted)")
            else:
                result.warnings.append(f"it differs from the official file ({note}); using it as a custom variant")
    return result


_memo: dict[tuple, VerifyResult] = {}
_memo_lock = threading.Lock()


def verify_cached(path: Path, **kwargs) -> VerifyResult:
    """verify_file, remembered for this process until the file's size or mtime changes."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return verify_file(path, **kwargs)
    spec = kwargs.get("spec")
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, spec, kwargs.get("kind"),
           kwargs.get("expected_size"), kwargs.get("expected_sha256"), kwargs.get("strict", False))
    with _memo_lock:
        hit = _memo.get(key)
    if hit is not None:
        return hit
    result = verify_file(path, **kwargs)
    with _memo_lock:
        _memo[key] = result
    return result


def clear_cache() -> None:
    with _memo_lock:
        _memo.clear()
