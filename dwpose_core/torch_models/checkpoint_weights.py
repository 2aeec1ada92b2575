"""mmpose / DWPose / YOLOX training checkpoints onto our fused modules.

Checkpoints (``.pth``, ``.pt``, ``.ckpt``) are read with :mod:`.pth_reader` (no
pickled code runs); keys are normalised (``student.``/``module.`` prefixes,
teacher weights and data preprocessors dropped, :func:`normalise_keys`), the
architecture is told from names and shapes (RTMW by its ``neck.*`` / ``head.mlp2``: :func:`spec_from_state_dict`,
checked before any tensor data is read: :func:`checkpoint_spec`) and BatchNorm
is folded into the convolutions once (:func:`fold_batchnorm`).
:func:`check_state_dict` compares any state dict with the architecture.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoints.safe_pickle import describe_root
from .onnx_weights import _RTMPOSE_BY_STEM, _YOLOX_BY_STEM, Spec, parameter_order
from ..checkpoints.pth_reader import Checkpoint, CheckpointFormatError, LazyTensor, find_state_dict
from .rtmpose import RTMPoseSpec
from .weight_errors import ArchitectureMismatch, WeightsFormatError
from .yolox import NATIVE_SIZE as YOLOX_NATIVE_SIZE
from .yolox import YOLOXSpec

# BatchNorm eps is not stored in checkpoints: mmpose's RTMPose configs use SyncBN's
# default (1e-5); Megvii's YOLOX sets 1e-3 on every BatchNorm.
DEFAULT_BN_EPS = {"rtmpose": 1e-5, "yolox": 1e-3}


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
        if "head.mlp2.1.weight" in state:  # RTMW (neck + two-scale head); mlp still maps the stride-32 tokens
            keypoints = _dim(state, "head.final_layer.conv.weight", 0, name)
            return RTMPoseSpec(variant, (round(bins_y / split), round(bins_x / split)), keypoints, split, arch="rtmw")
        keypoints = _dim(state, "head.final_layer.weight", 0, name)
        return RTMPoseSpec(variant, (round(bins_y / split), round(bins_x / split)), keypoints, split)
    stem_key = "backbone.backbone.stem.conv.conv.weight"
    if stem_key in state:
        stem = _dim(state, stem_key, 0, name)
        variant = _YOLOX_BY_STEM.get(stem)
        if variant is None:
            raise WeightsFormatError(f"{name}: YOLOX checkpoint with an unknown stem width {stem}.")
        classes = _dim(state, "head.cls_preds.0.weight", 0, name)
        size = YOLOX_NATIVE_SIZE[variant]
        return YOLOXSpec(variant, (size, size), classes)
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
