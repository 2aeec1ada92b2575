"""benchmarks/gpu.py works before device time is spent on it: its quick mode on the CPU runs every
workload through the same child-process path and writes both result files."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_script_runs_its_workloads_on_the_cpu_and_writes_results(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "benchmarks/gpu.py", "--device", "cpu", "--quick", "--skip-tests",
                           "--out", str(out), "--models-dir", str(tmp_path / "models"), "--budget", "300"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads((out / "gpu_results.json").read_text())
    assert not result["failed"], result["failed"]
    assert [(r["config"], r["workload"]) for r in result["rows"]] == [
        (c, w) for c in ("quick", "quick hand pass") for w in ("single", "crowd", "video", "video-det4")]
    video = next(r for r in result["rows"] if r["workload"] == "video")
    assert video["e2e_fps"] > 0 and video["crops"] == video["frames"] == 2
    assert "| quick | torch-cpu | fp32 | video |" in (out / "gpu_results.md").read_text()
