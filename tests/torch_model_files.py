"""Session fixture: architecture-faithful random-weight model files for the torch tests (a pytest plugin)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """Generated model files, written once per test session and shared by the torch test files
    (registered for every test file by conftest's pytest_plugins)."""
    root = tmp_path_factory.getbasetemp() / "torch_models"
    root.mkdir(exist_ok=True)
    return _ModelStore(root)


class _ModelStore:
    def __init__(self, root: Path):
        self.root = root

    def get(self, stem: str, fmt: str = "onnx") -> Path:
        from tools.make_test_models import make

        name = {"onnx": f"{stem}.onnx", "dynamic": f"{stem}_dynamic.onnx", "pth": f"{stem}.pth"}[fmt]
        path = self.root / name
        if not path.exists():
            make(stem, self.root, ("onnx", "dynamic", "pth") if not stem.startswith("yolox_l") and
                 stem != "dw-ll_ucoco_384" else (fmt,), seed=0, lean=True)
        return path
