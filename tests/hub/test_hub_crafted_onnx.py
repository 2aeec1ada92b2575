"""An ONNX file whose initializer declares far more data than it holds ([2^31, 2^31] floats over 4 bytes)
is refused by the structure check, naming the file and the tensor, before any backend is tried
(issue 24, item 12)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dwpose_core import hub
from dwpose_core.checkpoints import onnx_file
from dwpose_core.hub.structure import check_structure
from fakehub import make_pose


def _with_initializer(tensor) -> bytes:
    model = onnx.load_from_string(make_pose(seed=3))
    model.graph.initializer.append(tensor)
    return model.SerializeToString()


def _huge() -> TensorProto:
    t = TensorProto(name="bomb", data_type=TensorProto.FLOAT, dims=[2**31, 2**31])
    t.raw_data = b"\0\0\0\0"
    return t


def test_the_crafted_file_parses(tmp_path):
    # the premise: parsing accepts it (the structure check did too, before this fix)
    path = tmp_path / "crafted.onnx"
    path.write_bytes(_with_initializer(_huge()))
    assert [i.name for i in onnx_file.load(path).graph.initializer][-1] == "bomb"


def test_a_huge_declared_initializer_fails_the_structure_check(tmp_path):
    path = tmp_path / "crafted.onnx"
    path.write_bytes(_with_initializer(_huge()))
    problems, _ = check_structure(path, kind="pose")
    assert len(problems) == 1
    assert "'bomb'" in problems[0] and "[2147483648, 2147483648]" in problems[0]
    assert "18.4 EB" in problems[0] and "holds 4 bytes" in problems[0]


def test_resolving_it_is_one_error_naming_the_file_before_any_backend(tmp_path, hub_env, caplog):
    path = tmp_path / "crafted.onnx"
    path.write_bytes(_with_initializer(_huge()))
    with pytest.raises(hub.CorruptModelError) as err:
        hub.resolve(str(path), kind="pose")
    assert str(path) in str(err.value) and "'bomb'" in str(err.value)
    assert not any("backend" in r.getMessage() for r in caplog.records)


def test_the_estimator_refuses_it_before_a_backend_is_tried(tmp_path, hub_env, caplog, monkeypatch):
    from dwpose_core import pipeline

    path = tmp_path / "crafted.onnx"
    path.write_bytes(_with_initializer(_huge()))
    with pytest.raises(hub.CorruptModelError, match="crafted.onnx"):
        pipeline.WholeBodyEstimator(None, str(path), download=False)
    assert not any("backend" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("make,expect", [
    (lambda: numpy_helper.from_array(np.zeros((3, 4), np.float32), "ok_raw"), None),
    (lambda: helper.make_tensor("ok_values", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0]), None),
    (lambda: helper.make_tensor("ok_half", TensorProto.FLOAT16, [3], np.ones(3, np.float16)), None),
    (lambda: TensorProto(name="short_values", data_type=TensorProto.INT64, dims=[5], int64_data=[1, 2]), "holds 2"),
    (lambda: TensorProto(name="short_raw", data_type=TensorProto.INT64, dims=[5], raw_data=bytes(16)),
     "holds 16 bytes"),
    (lambda: TensorProto(name="neg", data_type=TensorProto.FLOAT, dims=[-1, 4]), "negative"),
    (lambda: TensorProto(name="empty_ok", data_type=TensorProto.FLOAT, dims=[0, 4]), None),
])
def test_declared_and_held_sizes_are_compared(make, expect):
    model = onnx.load_from_string(make_pose(seed=3))
    model.graph.initializer.append(make())
    problems = onnx_file.initializer_problems(model)
    if expect is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expect in problems[0]


def test_a_sound_model_has_no_initializer_problems():
    assert onnx_file.initializer_problems(onnx.load_from_string(make_pose(seed=3))) == []
