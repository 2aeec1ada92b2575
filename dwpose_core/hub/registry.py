"""Every model file the extension knows, as data.

One row per file: where it lives on Hugging Face, what it is (detector or
pose), the input the network expects, its channel order and normalisation,
and the official byte size / SHA-256 where known (None = unknown, then a
download is checked against the server's own LFS hash instead). Files that
cannot be used safely are listed too, with the reason and what to use instead,
so that asking for one gives a useful answer rather than "not found".
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Optional

DETECTOR = "detector"
POSE = "pose"
KINDS = (DETECTOR, POSE)

# RTMPose / DWPose normalisation (RGB order); YOLOX takes raw 0-255 BGR.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)

DEFAULTS = {DETECTOR: "yolox_l.onnx", POSE: "dw-ll_ucoco_384.onnx"}

# Model file suffixes, by what reads them (defined with the file readers).
from ..checkpoints.suffixes import (  # noqa: E402,F401 - re-exported
    CHECKPOINT_SUFFIXES,
    MODEL_SUFFIXES,
    ONNX_SUFFIXES,
    SAFETENSORS_SUFFIXES,
    TORCH_ONLY_SUFFIXES,
)

NUM_KEYPOINTS = 133
SIMCC_SPLIT = 2  # SimCC bins per input pixel
YOLOX_OUTPUT = (8400, 85)  # 80x80 + 40x40 + 20x20 anchors; 4 box + objectness + 80 classes


@dataclass(frozen=True)
class ModelSpec:
    filename: str
    repo_id: str
    kind: str  # DETECTOR or POSE
    format: str  # "onnx", "pth" (mmpose training checkpoint) or "torchscript"
    input_hw: tuple[int, int]  # (height, width) of the network input
    channel_order: str  # "bgr" or "rgb"
    mean: Optional[tuple[float, float, float]] = None  # None = raw 0-255 values
    std: Optional[tuple[float, float, float]] = None
    size: Optional[int] = None  # official byte size
    sha256: Optional[str] = None  # official SHA-256 (= the Hugging Face LFS object id)
    supported: bool = True
    reason: str = ""  # why an unsupported file cannot be used
    instead: Optional[str] = None  # the registry name to use instead
    description: str = ""
    # True when the graph's input/output names are known (the yzd-v exports); otherwise any input
    # name is accepted and outputs may be matched by position (common tools run them that way).
    io_names_known: bool = True

    @property
    def name(self) -> str:
        return self.filename

    @property
    def downloadable(self) -> bool:
        return self.supported and bool(self.repo_id)

    def url(self, endpoint: Optional[str] = None) -> str:
        base = (endpoint or "https://huggingface.co").rstrip("/")
        return f"{base}/{self.repo_id}/resolve/main/{self.filename}"


def _pose(filename, repo, fmt, hw, *, size=None, sha256=None, description="", io_names_known=True):
    return ModelSpec(filename, repo, POSE, fmt, hw, "rgb", IMAGENET_MEAN, IMAGENET_STD,
                     size=size, sha256=sha256, description=description, io_names_known=io_names_known)


_TORCHSCRIPT_REASON = (
    "TorchScript archives contain pickled Python/TorchScript code that runs when loaded; "
    "this extension only loads plain weights"
)
_YOLO_NAS_REASON = (
    "YOLO-NAS exports take uint8 input and run NMS inside the graph, a different contract from the "
    "YOLOX decoder this extension implements"
)

_ROWS = (
    ModelSpec("yolox_l.onnx", "yzd-v/DWPose", DETECTOR, "onnx", (640, 640), "bgr",
              size=216_746_733,
              sha256="7860ae79de6c89a3c1eb72ae9a2756c0ccfbe04b7791bb5880afabd97855a411",
              description="YOLOX-L person detector (official Megvii export shipped with DWPose)"),
    _pose("dw-ll_ucoco_384.onnx", "yzd-v/DWPose", "onnx", (384, 288), size=134_399_116,
          sha256="724f4ff2439ed61afb86fb8a1951ec39c6220682803b4a8bd4f598cd913b1843",
          description="DWPose-l 384x288, whole-body AP 66.5 (default)"),
    _pose("dw-ll_ucoco.onnx", "hr16/UnJIT-DWPose", "onnx", (256, 192), io_names_known=False,
          description="DWPose-l 256x192, whole-body AP 63.1"),
    _pose("dw-ll_ucoco_384.pth", "yzd-v/DWPose", "pth", (384, 288), size=406_878_486,
          sha256="0d9408b13cd863c4e95a149dd31232f88f2a12aa6cf8964ed74d7d97748c7a07",
          description="DWPose-l 384x288 mmpose checkpoint (torch backend)"),
    _pose("dw-ll_ucoco.pth", "yzd-v/DWPose", "pth", (256, 192), size=404_734_742,
          description="DWPose-l 256x192 mmpose checkpoint (torch backend), AP 63.1"),
    _pose("dw-mm_ucoco.pth", "yzd-v/DWPose", "pth", (256, 192),
          description="DWPose-m 256x192 mmpose checkpoint (torch backend), AP 60.6"),
    _pose("dw-ss_ucoco.pth", "yzd-v/DWPose", "pth", (256, 192),
          description="DWPose-s 256x192 mmpose checkpoint (torch backend), AP 53.8"),
    _pose("dw-tt_ucoco.pth", "yzd-v/DWPose", "pth", (256, 192),
          description="DWPose-t 256x192 mmpose checkpoint (torch backend), AP 48.5"),
    ModelSpec("yolox_l.torchscript.pt", "hr16/yolox-onnx", DETECTOR, "torchscript", (640, 640), "bgr",
              supported=False, reason=_TORCHSCRIPT_REASON, instead="yolox_l.onnx",
              description="YOLOX-L as TorchScript"),
    ModelSpec("dw-ll_ucoco_384_bs5.torchscript.pt", "hr16/DWPose-TorchScript-BatchSize5", POSE,
              "torchscript", (384, 288), "rgb", IMAGENET_MEAN, IMAGENET_STD,
              supported=False, reason=_TORCHSCRIPT_REASON, instead="dw-ll_ucoco_384.onnx",
              description="DWPose-l 384x288 as TorchScript, batch 5"),
    *(
        ModelSpec(f"yolo_nas_{v}_fp16.onnx", "hr16/yolo-nas-fp16", DETECTOR, "onnx", (640, 640), "rgb",
                  supported=False, reason=_YOLO_NAS_REASON, instead="yolox_l.onnx",
                  description=f"YOLO-NAS-{v.upper()} fp16")
        for v in ("l", "m", "s")
    ),
)

# Looked up at call time (tests replace rows with monkeypatch.setitem).
MODELS: dict[str, ModelSpec] = {row.filename: row for row in _ROWS}


def find_spec(name: str) -> Optional[ModelSpec]:
    """The row for a file name, or for "<repo_id>/<file name>"; None when unknown."""
    name = str(name).strip().replace("\\", "/")
    spec = MODELS.get(name)
    if spec is not None:
        return spec
    repo, _, filename = name.rpartition("/")
    spec = MODELS.get(filename)
    if spec is not None and repo and repo == spec.repo_id:
        return spec
    return None


def get_spec(name: str) -> ModelSpec:
    """The registry row for ``name``; KeyError naming close matches when unknown."""
    spec = find_spec(name)
    if spec is None:
        raise KeyError(unknown_name_message(name))
    return spec


def unknown_name_message(name: str) -> str:
    close = difflib.get_close_matches(str(name), list(MODELS), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (f"{name!r} is not a known DWPose model name.{hint} "
            f"Known names: {', '.join(n for n, s in MODELS.items() if s.supported)}.")


def specs(kind: Optional[str] = None) -> list[ModelSpec]:
    return [s for s in MODELS.values() if kind is None or s.kind == kind]


def default_name(kind: str) -> str:
    if kind not in DEFAULTS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    return DEFAULTS[kind]


@dataclass(frozen=True)
class OnnxContract:
    """Expected graph I/O. A None dimension accepts any value (batch, dynamic axes)."""

    input_name: Optional[str]  # None: any name
    input_shape: tuple[Optional[int], ...]
    outputs: dict[str, tuple[Optional[int], ...]]  # name -> shape; "*" = any output name
    positional: bool = False  # outputs without these names may match in order instead


def onnx_contract(spec: Optional[ModelSpec], kind: str) -> OnnxContract:
    """The I/O contract a graph of ``kind`` must meet (sizes from ``spec`` when known)."""
    h, w = spec.input_hw if spec is not None else (None, None)
    if kind == DETECTOR:
        if spec is not None:
            return OnnxContract("images", (None, 3, h, w), {"output": (None, *YOLOX_OUTPUT)})
        return OnnxContract(None, (None, 3, None, None), {"*": (None, None, None)})
    sx = w * SIMCC_SPLIT if w else None
    sy = h * SIMCC_SPLIT if h else None
    known = spec is not None and spec.io_names_known
    return OnnxContract("input" if known else None, (None, 3, h, w), {
        "simcc_x": (None, NUM_KEYPOINTS, sx),
        "simcc_y": (None, NUM_KEYPOINTS, sy),
    }, positional=not known)
