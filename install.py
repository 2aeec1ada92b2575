"""Install this pack's dependencies into the Python that runs ComfyUI / AUTOMATIC1111.

Run by ComfyUI-Manager after cloning, and by AUTOMATIC1111 at every start-up
(with the webui root as working directory, so every path here is absolute).

1. requirements.txt, with the running Python, quietly, and only when something
   is missing or older than its lower bound;
2. ONNX Runtime, only when no onnxruntime package is installed at all:
   onnxruntime-gpu when torch sees a CUDA GPU, onnxruntime otherwise. Never
   both: with both installed the CPU one shadows the GPU one and the GPU is
   silently lost.
torch is never installed or upgraded: pip gets a constraints file pinning the
installed torch (and torchvision / torchaudio) to their current versions.
"""
from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent
REQUIREMENTS = ROOT / "requirements.txt"

# Every distribution that provides the `onnxruntime` module: any one of them is enough,
# and installing a second one next to it breaks the first.
ONNXRUNTIME_PACKAGES = (
    "onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
    "onnxruntime-silicon", "onnxruntime-qnn", "onnxruntime-rocm", "onnxruntime-training",
)
PINNED = ("torch", "torchvision", "torchaudio")
# Distributions that provide the same module: any installed one satisfies the requirement
# (a second OpenCV wheel next to the first overwrites its files).
ALTERNATIVES = {
    "opencv-python-headless": ("opencv-python-headless", "opencv-python", "opencv-contrib-python",
                               "opencv-contrib-python-headless"),
}

VersionOf = Callable[[str], Optional[str]]


def installed_version(name: str) -> Optional[str]:
    """Version of an installed distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def parse_requirements(text: str) -> list[str]:
    """Requirement lines without comments, blanks and pip options."""
    reqs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            reqs.append(line)
    return reqs


def version_tuple(version: str) -> tuple[int, ...]:
    """"1.26.4" -> (1, 26, 4); stops at the first non-numeric part ("2.4.0+cpu" -> (2, 4, 0))."""
    parts = []
    for piece in version.split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
        if match.end() != len(piece):
            break
    return tuple(parts)


def requirement_met(req: str, version_of: VersionOf = installed_version) -> bool:
    """Installed, and at least the ``>=`` lower bound when there is one (other specifiers: presence)."""
    req = req.split(";", 1)[0].strip()  # environment markers are not evaluated: presence decides
    name = re.split(r"[\s\[<>=!~]", req, maxsplit=1)[0]
    bound = re.search(r">=\s*([0-9][0-9A-Za-z.+-]*)", req)
    for candidate in ALTERNATIVES.get(name.lower().replace("_", "-"), (name,)):
        version = version_of(candidate)
        if version is not None and (bound is None or at_least(version, bound.group(1))):
            return True
    return False


def at_least(version: str, bound: str) -> bool:
    have, need = version_tuple(version), version_tuple(bound)
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))


def missing_requirements(reqs: list[str], version_of: VersionOf = installed_version) -> list[str]:
    return [r for r in reqs if not requirement_met(r, version_of)]


def torch_sees_cuda() -> bool:
    """True when the installed torch has a usable NVIDIA CUDA GPU (ROCm builds do not count)."""
    try:
        import torch
    except Exception:
        return False
    try:
        if getattr(torch.version, "hip", None):
            return False
        return bool(torch.cuda.is_available())
    except Exception:
        return False


def onnxruntime_to_install(version_of: VersionOf = installed_version,
                           cuda: Callable[[], bool] = torch_sees_cuda) -> Optional[str]:
    """Which ONNX Runtime package to add: None when any is installed already."""
    if any(version_of(name) is not None for name in ONNXRUNTIME_PACKAGES):
        return None
    return "onnxruntime-gpu" if cuda() else "onnxruntime"


# Major versions other packages of the host commonly pin below (numpy 1.x for older
# extensions' compiled wheels; huggingface-hub 0.x for transformers 4.x): when the host
# has the older major, pip may raise the minor but never cross the major.
KEEP_MAJOR = {"numpy": "2", "huggingface-hub": "1.0"}


def constraints_text(version_of: VersionOf = installed_version) -> str:
    """Pins for the installed torch family, so pip never replaces them, and major-version caps."""
    lines = [f"{name}=={version}" for name in PINNED if (version := version_of(name)) is not None]
    for name, next_major in KEEP_MAJOR.items():
        version = version_of(name)
        if version is not None and not at_least(version, next_major):
            lines.append(f"{name}<{next_major}")
    return "\n".join(lines) + ("\n" if lines else "")


def pip_install(packages: list[str], constraints: str, run=subprocess.run) -> int:
    """``python -m pip install -q <packages>`` with the running Python and the torch pins."""
    fd, path = tempfile.mkstemp(prefix="dwpose-constraints-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(constraints)
        cmd = [sys.executable, "-m", "pip", "install", "-q", *packages, "-c", path]
        return run(cmd, check=False).returncode
    finally:
        os.unlink(path)


def plan(version_of: VersionOf = installed_version, cuda: Callable[[], bool] = torch_sees_cuda,
         requirements: Path = REQUIREMENTS) -> list[str]:
    """Everything to install, in one list (empty: nothing to do)."""
    reqs = parse_requirements(requirements.read_text(encoding="utf-8")) if requirements.is_file() else []
    todo = missing_requirements(reqs, version_of)
    ort = onnxruntime_to_install(version_of, cuda)
    if ort is not None:
        todo.append(ort)
    return todo


def main(run=subprocess.run) -> int:
    todo = plan(installed_version, torch_sees_cuda)
    if not todo:
        return 0
    print(f"[DWPose] installing {', '.join(todo)}", flush=True)
    code = pip_install(todo, constraints_text(installed_version), run=run)
    if code != 0:
        print(f"[DWPose] pip failed (exit code {code}). Install them by hand with:\n"
              f"  \"{sys.executable}\" -m pip install {' '.join(todo)}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
