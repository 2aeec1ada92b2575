"""First run on an empty per-user cache (issue 24, item 11): only the graph the run uses is written and
optimised, the preparation is announced with an estimate, and the cache stays within DWPOSE_CACHE_LIMIT."""
from __future__ import annotations

import logging

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(folder))
    monkeypatch.delenv("DWPOSE_ORT_CACHE", raising=False)
    monkeypatch.delenv("DWPOSE_CACHE_LIMIT", raising=False)
    from dwpose_core.backends import release_all

    release_all()
    yield folder
    release_all()


def derived_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.onnx"))


def test_a_batch1_pose_file_writes_one_graph_and_optimises_only_that_one(models_dir, empty_cache, caplog):
    from dwpose_core.backends import acquire_model

    path = models_dir.get("dw-tt_ucoco")  # fixed to batch 1, like the published pose file
    with caplog.at_level(logging.INFO, logger="dwpose"):
        model = acquire_model(path, backend="onnxruntime", providers="cpu", batch="any")
    try:
        assert model.max_batch is None
        files = derived_files(empty_cache)
        batch_graphs = [f for f in files if "-batch-" in f and not f.startswith("ort-optimised")]
        optimised = [f for f in files if f.startswith("ort-optimised")]
        # the dynamic-batch graph, and ONNX Runtime's optimised copy of it; none of the file itself
        assert len(batch_graphs) == 1 and len(optimised) == 1 and len(files) == 2, files
        prep = [r.getMessage() for r in caplog.records if "one-time preparation" in r.getMessage()]
        assert len(prep) == 1 and f"one-time preparation of {path.name} (about " in prep[0]
        assert caplog.records[[r.getMessage() for r in caplog.records].index(prep[0])].levelno == logging.WARNING
    finally:
        model.release()


def test_the_cache_limit_evicts_the_least_recently_used_derived_graph(models_dir, empty_cache, monkeypatch):
    from dwpose_core.backends import acquire_model, release_all

    first = acquire_model(models_dir.get("dw-tt_ucoco"), backend="onnxruntime", providers="cpu", batch="any")
    first.release()
    release_all()
    written = derived_files(empty_cache)
    monkeypatch.setenv("DWPOSE_CACHE_LIMIT", "1")  # keep only what was just written
    second = acquire_model(models_dir.get("yolox_tiny"), backend="onnxruntime", providers="cpu", det_size=320)
    try:
        now = derived_files(empty_cache)
        assert not set(written) & set(now)  # the older run's files are gone
        assert any("-320-" in f for f in now)  # the graph this run uses is there
    finally:
        second.release()


def test_a_checkpoint_under_onnxruntime_is_refused_before_any_download(served):
    # issue 24, item 16: one line, and the hub is never asked for the file
    from dwpose_core.backends import BackendError
    from dwpose_core.pipeline import WholeBodyEstimator

    with pytest.raises(BackendError) as err:
        WholeBodyEstimator(None, "dw-ll_ucoco_384.pth", backend="onnxruntime")
    assert str(err.value).count("\n") == 0 and "dw-ll_ucoco_384.pth is not an ONNX file" in str(err.value)
    assert "backend='torch'" in str(err.value)
    assert served.count() == 0


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_the_early_check_leaves_checkpoints_alone_under_other_backends(backend):
    from dwpose_core.backends.plan import check_request

    check_request((None, "dw-ll_ucoco_384.pth", "none"), backend)
