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
YOLOX_OUTPUT = (8400, 85)  # at 640: 80x80 + 40x40 + 20x20 anchors; 4 box + objectness + 80 classes


def yolox_anchors(input_hw: tuple[int, int]) -> int:
    """Rows of a raw YOLOX output at this input size: one per cell of the stride 8, 16 and 32 grids."""
    h, w = input_hw
    return sum((h // s) * (w // s) for s in (8, 16, 32))


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
    # Where to download from, best first (hub/archives.py tries them in order). Each is a full URL;
    # "{hf}" stands for the Hugging Face endpoint (HF_ENDPOINT). Empty: {hf}/<repo_id>/resolve/main/<filename>.
    sources: tuple[str, ...] = ()
    # A model shipped inside a zip (OpenMMLab's mmdeploy "onnx_sdk" archives): the archive's file name,
    # its official size / SHA-256 (None = unknown: recorded at the first download, refused if it changes),
    # the member extracted as `filename` (matched by its base name, e.g. "end2end.onnx"), and the other
    # members extracted next to it as (member base name, name on disk), e.g. ("pipeline.json",
    # "yolox_m_humanart.pipeline.json"). `size` / `sha256` above are the extracted model's.
    archive: Optional[str] = None
    archive_size: Optional[int] = None
    archive_sha256: Optional[str] = None
    member: Optional[str] = None
    sidecars: tuple[tuple[str, str], ...] = ()
    # Detector output contract (stages/detection.py): "yolox" (raw [N, anchors, 5 + classes]),
    # "end2end" (dets [N, K, 5] + labels [N, K], NMS inside) or "yolo_nas" (uint8 input, NMS inside).
    contract: str = "yolox"
    licence: str = ""  # of the weights, where it restricts use
    download_allowed: bool = True  # False: used where a user already has it, never downloaded by this pack
    num_keypoints: int = 133  # pose models: SimCC rows (133 whole-body; 21 for the hand-refinement model)

    @property
    def name(self) -> str:
        return self.filename

    @property
    def short_name(self) -> str:
        """The name without ".onnx" (``yolox_nano``), also accepted by find_spec."""
        return self.filename[:-5] if self.filename.endswith(".onnx") else self.filename

    @property
    def downloadable(self) -> bool:
        return self.supported and self.download_allowed and bool(self.repo_id or self.sources)

    def source_urls(self, endpoint: Optional[str] = None) -> list[str]:
        base = (endpoint or "https://huggingface.co").rstrip("/")
        if not self.sources:
            return [f"{base}/{self.repo_id}/resolve/main/{self.filename}"]
        return [s.replace("{hf}", base) for s in self.sources]

    def url(self, endpoint: Optional[str] = None) -> str:
        return self.source_urls(endpoint)[0]


def _pose(filename, repo, fmt, hw, *, size=None, sha256=None, description="", io_names_known=True):
    return ModelSpec(filename, repo, POSE, fmt, hw, "rgb", IMAGENET_MEAN, IMAGENET_STD,
                     size=size, sha256=sha256, description=description, io_names_known=io_names_known)


_TORCHSCRIPT_REASON = (
    "TorchScript archives contain pickled Python/TorchScript code that runs when loaded; "
    "this extension only loads plain weights"
)

# Megvii's own ONNX exports of every YOLOX size (release assets, Apache-2.0; MODELS.md).
MEGVII_RELEASE = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/"
# OpenMMLab's mmdeploy archives: the Hugging Face mirror at a pinned revision first, the publisher second.
MMPOSE_MIRROR_REPO = "Tau-J/RTMPose"
MMPOSE_MIRROR_REVISION = "cd4d7095f5cfc9cfc4f46289bee91ea4a1e1d9fd"
OPENMMLAB_PROJECTS = "https://download.openmmlab.com/mmpose/v1/projects/"
HUMANART_LICENCE = ("weights trained on HumanArt, whose data licence is non-commercial "
                    "(commercial use of the weights is an open question: mmpose issue 3271)")
YOLO_NAS_LICENCE = "Deci's YOLO-NAS weights licence: non-commercial use only"


def mmpose_archive_sources(archive_path: str) -> tuple[str, ...]:
    """Download URLs of an OpenMMLab archive (path under .../mmpose/v1/projects/): mirror, then publisher."""
    return (f"{{hf}}/{MMPOSE_MIRROR_REPO}/resolve/{MMPOSE_MIRROR_REVISION}/{archive_path}",
            f"{OPENMMLAB_PROJECTS}{archive_path}")


def _megvii(variant: str, size: int, *, nbytes=None, sha256=None, ap=None, gflops=None, description=""):
    filename = f"yolox_{variant}.onnx"
    return ModelSpec(filename, "Megvii-BaseDetection/YOLOX", DETECTOR, "onnx", (size, size), "bgr",
                     size=nbytes, sha256=sha256, sources=(MEGVII_RELEASE + filename,),
                     description=description or f"YOLOX-{variant.capitalize()} {size}x{size}, COCO AP {ap}, "
                                                f"{gflops} GFLOPs (Megvii release asset)")


def _e2e(filename: str, archive_path: str, hw, *, archive_sha256=None, archive_size=None, sha256=None,
         size=None, description="", licence=""):
    stem = filename[:-len(".onnx")]
    return ModelSpec(filename, MMPOSE_MIRROR_REPO, DETECTOR, "onnx", hw, "bgr", size=size, sha256=sha256,
                     io_names_known=False, sources=mmpose_archive_sources(archive_path),
                     archive=archive_path.rsplit("/", 1)[-1], archive_size=archive_size,
                     archive_sha256=archive_sha256, member="end2end.onnx",
                     sidecars=(("pipeline.json", f"{stem}.pipeline.json"),), contract="end2end",
                     licence=licence, description=description)


_ROWS = (
    ModelSpec("yolox_l.onnx", "yzd-v/DWPose", DETECTOR, "onnx", (640, 640), "bgr",
              size=216_746_733,
              sha256="7860ae79de6c89a3c1eb72ae9a2756c0ccfbe04b7791bb5880afabd97855a411",
              description="YOLOX-L person detector (official Megvii export shipped with DWPose)"),
    _megvii("nano", 416, sha256="c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d",
            ap=25.8, gflops=1.08),
    _megvii("tiny", 416, nbytes=20_219_662,
            sha256="427cc366d34e27ff7a03e2899b5e3671425c262ea2291f88bb942bc1cc70b0f7", ap=32.8, gflops=6.45),
    _megvii("s", 640, ap=40.5, gflops=26.8),
    _megvii("m", 640, ap=46.9, gflops=73.8),
    _megvii("x", 640, ap=51.1, gflops=281.9),
    _e2e("yolox_m_humanart.onnx", "rtmposev1/onnx_sdk/yolox_m_8xb8-300e_humanart-c2c7a14a.zip", (640, 640),
         archive_sha256="a000224fd8ba283202bc62d4a5fcdfe353adb9f468777dbac1ea2ada2093adde",
         sha256="3dea6513388889f0fff4b77bf7a26013600321b9eb9ceb0e9a400a82572f5f23", size=101_400_344,
         licence=HUMANART_LICENCE,
         description="YOLOX-M person detector trained on COCO + HumanArt (paintings, anime, sculptures), NMS inside"),
    _e2e("yolox_tiny_humanart.onnx", "rtmposev1/onnx_sdk/yolox_tiny_8xb8-300e_humanart-6f3252f9.zip", (416, 416),
         sha256="ceb11c07298f95c50d7c5abeb906d03340c85f23aa79e3e66966e7fb6c307250", licence=HUMANART_LICENCE,
         description="YOLOX-Tiny 416 person detector trained on COCO + HumanArt, NMS inside"),
    _e2e("rtmdet_m_person.onnx", "rtmposev1/onnx_sdk/rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.zip",
         (640, 640),
         description="RTMDet-M person detector (COCO + Objects365 person), NMS inside"),
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
                  io_names_known=False, contract="yolo_nas", licence=YOLO_NAS_LICENCE, download_allowed=False,
                  description=f"YOLO-NAS-{v.upper()} fp16 (comfyui_controlnet_aux's; used where it is "
                              "already on disk, never downloaded by this pack)")
        for v in ("l", "m", "s")
    ),
)

# Looked up at call time (tests replace rows with monkeypatch.setitem).
MODELS: dict[str, ModelSpec] = {row.filename: row for row in _ROWS}


# ------------------------------------------------------------------------------------------------
# RTMW whole-body models and the hand-refinement model (issue 22). Facts: MODELS.md, mmpose 1.3's
# cocktail14 / hand5 configs and model tables. RTMW has DWPose's contract (133 COCO-WholeBody points,
# SimCC split 2.0, same normalisation and box convention); the ONNX files come in mmdeploy "onnx_sdk"
# zips (extracted by hub/archives.py), RTMW-x only as an mmengine .pth (torch backend).
COCKTAIL14_LICENCE = ("code Apache-2.0; RTMW was trained on Cocktail14, which includes research-only "
                      "datasets: check their terms before commercial use")
HAND5_LICENCE = ("code Apache-2.0; trained on five public hand datasets (some research-only) and "
                 "marked alpha by mmpose")
HAND_KEYPOINTS = 21
DEFAULT_HAND = "rtmpose-m_hand5_256x256.onnx"


def _mmpose_zip_pose(filename: str, archive_path: str, hw, *, num_keypoints=NUM_KEYPOINTS, archive_sha256=None,
                     archive_size=None, sha256=None, size=None, licence="", description=""):
    # No sidecars: the pose contract is fixed (MODELS.md), so the .onnx alone is a complete model (a user
    # may put just that file in a model folder).
    return ModelSpec(filename, MMPOSE_MIRROR_REPO, POSE, "onnx", hw, "rgb", IMAGENET_MEAN, IMAGENET_STD,
                     size=size, sha256=sha256, io_names_known=False, sources=mmpose_archive_sources(archive_path),
                     archive=archive_path.rsplit("/", 1)[-1], archive_size=archive_size,
                     archive_sha256=archive_sha256, member="end2end.onnx", licence=licence,
                     description=description, num_keypoints=num_keypoints)


def _mmpose_pth(filename: str, path: str, hw, *, num_keypoints=NUM_KEYPOINTS, licence="", description=""):
    return ModelSpec(filename, MMPOSE_MIRROR_REPO, POSE, "pth", hw, "rgb", IMAGENET_MEAN, IMAGENET_STD,
                     sources=mmpose_archive_sources(path), licence=licence, description=description,
                     num_keypoints=num_keypoints)


_RTMW_ROWS = (
    # mmpose's table pairs RTMW-m with the rtmw-dw-l-m checkpoint (RTMW-l distilled into m); its README's
    # onnx link says rtmw-dw-m-s, which is the smaller distillation. The stem width is checked at load.
    _mmpose_zip_pose("rtmw-m_256x192.onnx", "rtmw/onnx_sdk/rtmw-dw-l-m_simcc-cocktail14_270e-256x192_20231122.zip",
                     (256, 192), licence=COCKTAIL14_LICENCE,
                     description="RTMW-m 256x192, whole-body AP 58.2, 4.3 GFLOPs (fast)"),
    _mmpose_zip_pose("rtmw-l_256x192.onnx", "rtmw/onnx_sdk/rtmw-dw-x-l_simcc-cocktail14_270e-256x192_20231122.zip",
                     (256, 192), licence=COCKTAIL14_LICENCE,
                     archive_sha256="1e3e77558dfc199129bfff1c583e51b4ee190914de6ae30688243c20163c148c",
                     sha256="9a9bc17c13ff0a1e37507f45a037a21bc410cd08374b0e664c57d0080843aa58", size=228_708_578,
                     description="RTMW-l 256x192, whole-body AP 66.0, 7.9 GFLOPs"),
    _mmpose_zip_pose("rtmw-l_384x288.onnx", "rtmw/onnx_sdk/rtmw-dw-x-l_simcc-cocktail14_270e-384x288_20231122.zip",
                     (384, 288), licence=COCKTAIL14_LICENCE,
                     description="RTMW-l 384x288, whole-body AP 70.1, hand AP 66.3, 17.7 GFLOPs (best hands)"),
    _mmpose_pth("rtmw-x_384x288.pth", "rtmw/rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288-f840f204_20231122.pth",
                (384, 288), licence=COCKTAIL14_LICENCE,
                description="RTMW-x 384x288 mmengine checkpoint (torch backend), whole-body AP 70.2, 29.3 GFLOPs"),
    # Hand model of the refinement pass (stages/hands.py): 21 points, 256x256, never a whole-body model.
    _mmpose_zip_pose(DEFAULT_HAND,
                     "rtmposev1/onnx_sdk/rtmpose-m_simcc-hand5_pt-aic-coco_210e-256x256-74fb594_20230320.zip",
                     (256, 256), num_keypoints=HAND_KEYPOINTS, licence=HAND5_LICENCE,
                     description="RTMPose-m hand5 256x256 hand model for --refine-hands (21 points), 2.6 GFLOPs"),
    _mmpose_pth("rtmpose-m_hand5_256x256.pth",
                "rtmposev1/rtmpose-m_simcc-hand5_pt-aic-coco_210e-256x256-74fb594_20230320.pth", (256, 256),
                num_keypoints=HAND_KEYPOINTS, licence=HAND5_LICENCE,
                description="RTMPose-m hand5 256x256 mmengine checkpoint for --refine-hands (torch backend)"),
)
MODELS.update({row.filename: row for row in _RTMW_ROWS})


def hand_model_names() -> list[str]:
    """Registry names of the hand-refinement models (21-point pose rows), the default first."""
    names = [s.filename for s in MODELS.values() if s.kind == POSE and s.num_keypoints == HAND_KEYPOINTS]
    return sorted(names, key=lambda n: n != DEFAULT_HAND)
# ------------------------------------------------------------------------------ end of issue-22 block


def find_spec(name: str) -> Optional[ModelSpec]:
    """The row for a file name, or for "<repo_id>/<file name>"; None when unknown."""
    name = str(name).strip().replace("\\", "/")
    spec = MODELS.get(name)
    if spec is not None:
        return spec
    if "/" not in name and not name.endswith(".onnx") and name + ".onnx" in MODELS:
        return MODELS[name + ".onnx"]  # "yolox_nano" for "yolox_nano.onnx"
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
    """Rows of ``kind`` (all with None). The 21-point hand models are pose-kind files but no whole-body
    model: they are left out of POSE (the pose lists) and listed with None (see hand_model_names)."""
    return [s for s in MODELS.values() if kind is None or (s.kind == kind and not (
        kind == POSE and s.num_keypoints != NUM_KEYPOINTS))]


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
        if spec is not None and spec.contract == "end2end":
            # mmdeploy graphs: any input name, dynamic sizes allowed; dets [N,K,5] + labels [N,K].
            return OnnxContract(None, (None, 3, None, None), {"dets": (None, None, 5), "labels": (None, None)})
        if spec is not None and spec.contract == "yolo_nas":
            return OnnxContract(None, (None, 3, h, w), {"*": (None, None, None)})
        if spec is not None:
            return OnnxContract("images", (None, 3, h, w), {"output": (None, yolox_anchors((h, w)), 85)})
        return OnnxContract(None, (None, 3, None, None), {"*": (None, None, None)})
    sx = w * SIMCC_SPLIT if w else None
    sy = h * SIMCC_SPLIT if h else None
    known = spec is not None and spec.io_names_known
    return OnnxContract("input" if known else None, (None, 3, h, w), {
        # a custom file (no spec) may have any keypoint count: a 21-point hand model is a pose-kind file
        # too; the pose stage refuses a count it cannot use with its own message
        "simcc_x": (None, spec.num_keypoints if spec is not None else None, sx),
        "simcc_y": (None, spec.num_keypoints if spec is not None else None, sy),
    }, positional=not known)
