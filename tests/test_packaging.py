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
