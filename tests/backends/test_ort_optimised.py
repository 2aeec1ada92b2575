"""ONNX Runtime's optimised graph is saved per machine and reused; a bad copy is never a failure."""
import numpy as np

from dwpose_core.backends import ort_backend
from dwpose_core.backends.ort_optimized import optimised_path
from oracles import make_pose


def _fresh_session(path):
    ort_backend._sessions.clear()
    return ort_backend.get_session(path, [ort_backend.CPU])


def test_the_optimised_graph_is_saved_once_and_gives_the_same_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "cache"))
    path = make_pose(tmp_path / "pose.onnx")
    import onnxruntime as ort

    x = np.random.default_rng(0).random((1, 3, 256, 192), np.float32)
    first = _fresh_session(path)
    saved = optimised_path(path, ort.__version__)
    assert saved.is_file() and saved.with_suffix(".json").is_file()
    stamp = saved.stat().st_mtime_ns
    second = _fresh_session(path)  # a new session: from the saved graph, nothing written again
    assert saved.stat().st_mtime_ns == stamp
    name = first.get_inputs()[0].name
    for a, b in zip(first.run(None, {name: x}), second.run(None, {name: x})):
        np.testing.assert_array_equal(a, b)


def test_a_damaged_saved_graph_is_replaced_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "cache"))
    path = make_pose(tmp_path / "pose.onnx")
    import onnxruntime as ort

    _fresh_session(path)
    saved = optimised_path(path, ort.__version__)
    saved.write_bytes(b"garbage")  # size no longer matches its record
    assert _fresh_session(path) is not None
    assert saved.stat().st_size > 100  # written again


def test_a_changed_source_file_gets_its_own_saved_graph(tmp_path, monkeypatch):
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "cache"))
    path = make_pose(tmp_path / "pose.onnx")
    import onnxruntime as ort

    before = optimised_path(path, ort.__version__)
    make_pose(path)  # rewritten: new modification time
    assert optimised_path(path, ort.__version__) != before


def test_it_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DWPOSE_ORT_CACHE", "0")
    path = make_pose(tmp_path / "pose.onnx")
    _fresh_session(path)
    assert not (tmp_path / "cache" / "ort-optimised").exists()
