"""Detector input size (det_size): torch runs YOLOX at any multiple of 32 with the file's weights;
ONNX Runtime runs a graph of those weights written once at that size into the per-user cache."""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from dwpose_core.stages.detection import DetectionThresholds, PersonDetector, check_det_size
from oracles import encode_boxes

torch = pytest.importorskip("torch")


def rows(size: int) -> int:
    return sum((size // s) ** 2 for s in (8, 16, 32))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache folder for the module: the graph written by one test is reused by the next."""
    folder = tmp_path_factory.mktemp("detsize") / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DWPOSE_CACHE_DIR", str(folder))
        yield folder


@pytest.mark.parametrize("bad", [300, 1312, 333, 640.0, "640", True])
def test_det_size_is_a_multiple_of_32_from_320_to_1280(bad):
    with pytest.raises(ValueError, match="multiple of 32 from 320 to 1280"):
        check_det_size(bad)
    assert [check_det_size(s) for s in (320, 416, 640, 1280)] == [320, 416, 640, 1280]


def test_torch_runs_the_published_weights_at_another_size(models_dir):
    from dwpose_core.backends.torch_backend import TorchModel

    model = TorchModel(models_dir.get("yolox_tiny"), device="cpu")  # a 416 file
    assert model.supports_input_hw((320, 320)) and not model.supports_input_hw((330, 330))
    out = model.run(np.zeros((2, 3, 320, 320), np.float32))["output"]
    assert out.shape == (2, rows(320), 85) and np.isfinite(out).all()
    assert model.run(np.zeros((0, 3, 512, 512), np.float32))["output"].shape == (0, rows(512), 85)


def test_onnxruntime_graph_at_det_size_equals_torch_at_that_size(models_dir, cache):
    from dwpose_core.backends import load_detector
    from dwpose_core.backends.torch_backend import TorchModel

    path = models_dir.get("yolox_tiny")
    ort = load_detector(path, det_size=320, backend="onnxruntime")
    try:
        assert ort.input_hw == (320, 320) and ort.max_batch is None and ort.info.backend == "onnxruntime"
        assert ort.path == path  # messages name the user's file
        batch = np.random.default_rng(0).uniform(0, 255, (2, 3, 320, 320)).astype(np.float32)
        ours = ort.run(batch)["output"]
        ref = TorchModel(path, device="cpu").run(batch)["output"]
        assert np.abs(ours - ref).max() <= 1e-3 * max(1.0, np.abs(ref).max())
        graphs = list(cache.glob("yolox_tiny-320-*.onnx"))
        assert len(graphs) == 1 and graphs[0].with_suffix(".json").is_file()
    finally:
        ort.release()


def test_the_cached_graph_is_reused_and_rewritten_when_it_does_not_match(models_dir, cache, monkeypatch):
    from dwpose_core.backends import derived_graphs as detsize

    path = models_dir.get("yolox_tiny")
    graph = detsize.detector_for_size(path, 320)
    written = graph.read_bytes()
    calls = []
    real_export = detsize.export_yolox
    monkeypatch.setattr(detsize, "export_yolox", lambda *a: calls.append(a) or real_export(*a))
    assert detsize.detector_for_size(path, 320) == graph and calls == []  # verified: reused
    os.utime(graph)  # touched, same bytes: the hash is checked again and still matches
    assert detsize.detector_for_size(path, 320) == graph and calls == []
    graph.write_bytes(written[:-10] + b"0123456789")  # changed bytes
    assert detsize.detector_for_size(path, 320) == graph and len(calls) == 1
    assert graph.read_bytes() == written  # written again, identical


class _FakeDetectorModel:
    """A detector 'network' at any size that reports one box given in model pixels."""

    def __init__(self, box):
        self.box = box
        self.path = SimpleNamespace(name="fake.onnx")
        self.input_hw = (640, 640)
        self.max_batch = None
        self.output_names = ["output"]
        self.info = SimpleNamespace(device="cpu")
        self.sizes = []

    def supports_input_hw(self, hw):
        return True

    def run(self, batch):
        size = batch.shape[2]
        self.sizes.append((batch.shape[2], batch.shape[3]))
        return {"output": np.stack([encode_boxes([self.box], (size, size))] * len(batch))}


@pytest.mark.parametrize("det_size", [320, 416, 1280])
def test_boxes_come_back_in_frame_pixels_at_any_det_size(det_size):
    model = _FakeDetectorModel((32.0, 16.0, 160.0, 180.0, 0.9))
    detector = PersonDetector(model, det_size=det_size)
    frame = np.zeros((480, 800, 3), np.uint8)
    (boxes, scores), = detector([frame], DetectionThresholds())
    r = min(det_size / 480, det_size / 800)
    assert model.sizes == [(det_size, det_size)]
    np.testing.assert_allclose(boxes[0], np.array([32.0, 16.0, 160.0, 180.0]) / r, rtol=1e-5)


def test_a_fixed_size_graph_refuses_another_det_size_with_a_pointer(tmp_path):
    from dwpose_core.backends import load_model
    from oracles import make_detector

    model = load_model(make_detector(tmp_path / "d.onnx", [(10, 10, 100, 100, 0.9)]), backend="onnxruntime")
    with pytest.raises(ValueError, match="load_detector"):
        PersonDetector(model, det_size=416)
    assert PersonDetector(model, det_size=640).input_hw == (640, 640)


def test_a_batch1_pose_file_runs_whole_batches_through_its_derived_graph(models_dir, cache, monkeypatch):
    from dwpose_core.backends import acquire_model
    from dwpose_core.backends import derived_graphs as detsize
    from dwpose_core.backends.ort_backend import OrtModel

    path = models_dir.get("dw-tt_ucoco")  # fixed batch 1, like the published files
    plain = acquire_model(path, backend="onnxruntime")
    batched = acquire_model(path, backend="onnxruntime", batch="any")
    try:
        assert plain.max_batch == 1 and batched.max_batch is None and batched.path == path
        crops = np.random.default_rng(3).standard_normal((5, 3, 256, 192)).astype(np.float32)
        got, ref = batched.run(crops), plain.run(crops)  # one call of 5 vs five calls of 1
        for name in ("simcc_x", "simcc_y"):
            assert np.abs(got[name] - ref[name]).max() <= 1e-4 * max(1.0, np.abs(ref[name]).max())
        # a later process finds the verified graph and never opens the file itself
        opened = []
        monkeypatch.setattr("dwpose_core.backends.ort_backend.OrtModel",
                            lambda p, providers: opened.append(p) or OrtModel(p, providers=providers))
        from dwpose_core import backends

        model = backends._any_batch(path, "auto")
        assert opened == [detsize.cached_graph_path(path, None)] and model.max_batch is None
    finally:
        plain.release()
        batched.release()


def test_a_source_file_is_hashed_once_across_processes(models_dir, cache, monkeypatch):
    from dwpose_core.backends import derived_graphs as detsize

    path = models_dir.get("yolox_tiny")
    first = detsize.cached_graph_path(path, 320)
    detsize._source_hashes.clear()  # a new process
    monkeypatch.setattr(detsize, "sha256_file", lambda p: pytest.fail(f"hashed {p} again"))
    assert detsize.cached_graph_path(path, 320) == first
