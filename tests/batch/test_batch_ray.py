"""``batch --ray`` on a local Ray instance started here (2 CPUs): the local run's outputs, byte for byte."""
import json
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'ray[data]')")

from dwpose_core.cli import batch  # noqa: E402
from dwpose_core.batch import journal as batch_summary
from test_batch import BOX, files_under, noise_image, noise_video, outputs_only  # noqa: E402
from oracles import make_detector, make_pose  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray():
    # the actors import dwpose_core from the checkout, as an installed pack would be imported
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}})
    yield
    ray.shutdown()


def test_ray_writes_what_the_local_run_writes_and_records_the_corrupt_input(tmp_path, local_ray):
    det = make_detector(tmp_path / "det.onnx", [tuple(np.array(BOX) * 2.0) + (0.9,)])
    pose = make_pose(tmp_path / "pose.onnx")
    models = ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime", "-q", "--track", "--feet"]
    folder = tmp_path / "in"
    noise_image(folder / "a.png", 240, 320, 1)
    noise_image(folder / "sub" / "b.jpg", 200, 300, 2)
    noise_video(folder / "clips" / "long.mp4", 40, seed=3)
    noise_video(folder / "clips" / "short.mp4", 12, seed=4)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))

    assert batch.main([str(folder), "--out", str(tmp_path / "local"), *models]) == 1
    assert batch.main([str(folder), "--out", str(tmp_path / "ray"), "--ray", "--workers", "2", *models]) == 1

    local = outputs_only(files_under(tmp_path / "local"))
    assert len(local) == 8 and outputs_only(files_under(tmp_path / "ray")) == local

    def table(out):
        rows = batch_summary.read_summary(batch_summary.default_summary_path(out))
        return {Path(r["input"]).name: (r["status"], r["frames"], list(r["people"]), r["error"]) for r in rows}

    expected = {name: ("done", n, [1] * n, None)
                for name, n in {"a.png": 1, "b.jpg": 1, "long.mp4": 40, "short.mp4": 12}.items()}
    local_rows = table(tmp_path / "local")
    assert local_rows.pop("broken.png")[0] == "failed"
    assert local_rows == expected
    ray_rows = table(tmp_path / "ray")
    assert ray_rows.pop("broken.png")[0] == "failed"
    assert ray_rows == expected
    assert len(json.loads((tmp_path / "ray" / "clips" / "long.json").read_text())) == 40

    # and the Ray run resumes like the local one: nothing left to do, nothing done again
    assert batch.main([str(folder), "--out", str(tmp_path / "ray"), "--ray", *models]) == 1
    assert {r[0] for name, r in table(tmp_path / "ray").items() if name != "broken.png"} == {"skipped"}
