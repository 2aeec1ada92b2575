"""install.py's decisions, with pip and the installed-package lookup replaced by fakes."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("dwpose_install", ROOT / "install.py")
install = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(install)


def versions(**installed):
    """A fake installed_version: keyword names use _ for -."""
    table = {k.replace("_", "-"): v for k, v in installed.items()}
    return lambda name: table.get(name.lower().replace("_", "-"))


ALL_REQS = dict(numpy="2.0.0", opencv_python_headless="4.10.0", onnx="1.16.0", huggingface_hub="0.25.0",
                scipy="1.13.0", tqdm="4.66.0", safetensors="0.4.3")


class FakePip:
    def __init__(self, code=0):
        self.calls, self.code = [], code

    def __call__(self, cmd, check=False):
        constraints = Path(cmd[cmd.index("-c") + 1]).read_text()
        self.calls.append((cmd, constraints))
        return subprocess.CompletedProcess(cmd, self.code)


def test_nothing_to_do_when_everything_is_there():
    assert install.plan(versions(**ALL_REQS, onnxruntime="1.20.0"), cuda=lambda: True) == []


@pytest.mark.parametrize("cuda, expected", [(True, "onnxruntime-gpu"), (False, "onnxruntime")])
def test_onnxruntime_flavour_follows_torch_cuda_when_none_is_installed(cuda, expected):
    assert install.plan(versions(**ALL_REQS), cuda=lambda: cuda) == [expected]


@pytest.mark.parametrize("present", ["onnxruntime", "onnxruntime-gpu", "onnxruntime-directml"])
def test_never_a_second_onnxruntime(present):
    for cuda in (True, False):
        plan = install.plan(versions(**ALL_REQS, **{present.replace("-", "_"): "1.19.0"}), cuda=lambda: cuda)
        assert not any(p.startswith("onnxruntime") for p in plan)


def test_missing_or_too_old_requirements_are_installed():
    have = dict(ALL_REQS, numpy="1.24.4")  # below numpy>=1.26
    del have["tqdm"]
    plan = install.plan(versions(**have, onnxruntime="1.20.0"), cuda=lambda: False)
    assert sorted(plan) == ["numpy>=1.26", "tqdm>=4.60"]


def test_any_opencv_wheel_satisfies_opencv():
    have = dict(ALL_REQS)
    del have["opencv_python_headless"]
    assert install.plan(versions(**have, opencv_python="4.9.0.80", onnxruntime="1.2"), cuda=lambda: False) == []


def test_requirements_file_names_no_onnxruntime_and_no_torch():
    reqs = install.parse_requirements(install.REQUIREMENTS.read_text())
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in reqs}
    assert not names & {"onnxruntime", "onnxruntime-gpu", "torch", "torchvision", "torchaudio"}


@pytest.mark.parametrize("version, bound, ok", [
    ("1.26.0", "1.26", True), ("1.26", "1.26.0", True), ("2.4.0+cpu", "2.4", True),
    ("1.9", "1.26", False), ("0.23.5", "0.23", True), ("10.0", "9.9.9", True), ("4.8.0rc1", "4.8", True),
])
def test_lower_bound_comparison(version, bound, ok):
    assert install.at_least(version, bound) is ok


def test_pip_runs_with_this_python_and_pins_torch(monkeypatch):
    monkeypatch.setattr(install, "installed_version",
                        versions(**{k: v for k, v in ALL_REQS.items() if k != "tqdm"}, torch="2.5.1+cu124",
                                 torchvision="0.20.1"))
    monkeypatch.setattr(install, "torch_sees_cuda", lambda: True)
    pip = FakePip()
    assert install.main(run=pip) == 0
    ((cmd, constraints),) = pip.calls
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert "tqdm>=4.60" in cmd and "onnxruntime-gpu" in cmd and "onnxruntime" not in cmd
    assert "torch" not in " ".join(cmd[4:cmd.index("-c")])
    # torch pinned; the host's huggingface-hub 0.x kept below 1.0 (numpy 2.x here: no cap)
    assert set(constraints.split()) == {"torch==2.5.1+cu124", "torchvision==0.20.1", "huggingface-hub<1.0"}
    assert not Path(cmd[cmd.index("-c") + 1]).exists()  # the temporary constraints file is removed


def test_pip_is_not_called_when_nothing_is_missing(monkeypatch):
    monkeypatch.setattr(install, "installed_version", versions(**ALL_REQS, onnxruntime_gpu="1.20"))
    pip = FakePip()
    assert install.main(run=pip) == 0
    assert pip.calls == []


def test_pip_failure_is_reported_with_the_command_to_run(monkeypatch, capsys):
    monkeypatch.setattr(install, "installed_version", versions(**ALL_REQS))
    monkeypatch.setattr(install, "torch_sees_cuda", lambda: False)
    assert install.main(run=FakePip(code=1)) == 1
    assert "-m pip install onnxruntime" in capsys.readouterr().out


def test_requirements_path_is_absolute_whatever_the_working_directory(tmp_path):
    # A1111 runs install.py from the webui root: paths must not depend on the working directory.
    code = (f"import importlib.util; s = importlib.util.spec_from_file_location('i', {str(ROOT / 'install.py')!r});"
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); print(m.REQUIREMENTS)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == ROOT / "requirements.txt"


def test_rocm_torch_does_not_get_onnxruntime_gpu(monkeypatch):
    class FakeTorch:
        class version:
            hip = "6.2"

        class cuda:
            @staticmethod
            def is_available():
                return True

    monkeypatch.setitem(sys.modules, "torch", FakeTorch)
    assert install.torch_sees_cuda() is False


def test_host_major_versions_are_kept():
    old_host = versions(numpy="1.26.4", **{"huggingface-hub": "0.25.2"})
    pins = install.constraints_text(old_host).splitlines()
    assert "numpy<2" in pins and "huggingface-hub<1.0" in pins
    new_host = versions(numpy="2.1.0", **{"huggingface-hub": "1.2.0"})
    assert not any(line.startswith(("numpy", "huggingface-hub")) for line in install.constraints_text(new_host).splitlines())
