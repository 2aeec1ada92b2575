"""pyproject metadata the ComfyUI registry needs, and the dependency rules DESIGN.md decides."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_registry_fields_are_filled():
    comfy = PYPROJECT["tool"]["comfy"]
    assert comfy["PublisherId"] and comfy["DisplayName"]
    assert (ROOT / comfy["Icon"]).is_file()
    assert re.fullmatch(r">=\d+\.\d+\.\d+", comfy["requires-comfyui"])
    assert PYPROJECT["project"]["urls"]["Repository"].startswith("https://")


def test_licence_is_apache_and_torch_is_never_a_dependency():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    names = [re.split(r"[<>=!~\[ ]", d)[0].lower() for d in project["dependencies"]]
    assert "torch" not in names and "onnxruntime" not in names and "onnxruntime-gpu" not in names
    requirements = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert not any(re.match(r"(torch|onnxruntime)\b", r) for r in requirements if r)


# What the runtime code imports (outside the standard library and our own folders) and the
# distribution that provides it. torch and onnxruntime are deliberately undeclared (DESIGN.md);
# the others here are optional, imported only behind a clear message.
_HOST = {"comfy", "comfy_api", "folder_paths", "server", "modules", "scripts", "nodes", "dwpose_core", "a1111_dwpose"}
_UNDECLARED = {"torch", "onnxruntime"}
_OPTIONAL = {"ray", "pyarrow", "certifi", "av", "imageio_ffmpeg"}
_DISTRIBUTION = {"cv2": "opencv-python-headless", "huggingface_hub": "huggingface-hub", "skimage": "scikit-image"}


def _runtime_imports() -> set:
    import ast
    import sys

    files = [p for d in ("dwpose_core", "nodes", "a1111_dwpose", "scripts") for p in (ROOT / d).rglob("*.py")]
    files += [ROOT / "install.py", ROOT / "__init__.py"]
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {n for n in found if n not in sys.stdlib_module_names} - _HOST


def test_requirements_declare_exactly_what_the_code_imports():
    imported = _runtime_imports() - _UNDECLARED - _OPTIONAL
    wanted = {_DISTRIBUTION.get(n, n).lower() for n in imported}
    declared = {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in PYPROJECT["project"]["dependencies"]}
    listed = {re.split(r"[<>=!~\[ ]", line.split("#")[0].strip())[0].lower()
              for line in (ROOT / "requirements.txt").read_text().splitlines() if line.split("#")[0].strip()}
    assert declared == wanted, (sorted(declared - wanted), sorted(wanted - declared))
    assert listed == wanted, (sorted(listed - wanted), sorted(wanted - listed))
