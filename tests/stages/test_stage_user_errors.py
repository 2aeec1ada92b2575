"""A model file of the wrong kind or size is the user's error (a DWPoseError with its exit code 2),
never a bare ValueError that the command lines would report as a bug (issue 24)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dwpose_core.errors import exit_code_for, is_bug
from dwpose_core.hub.errors import ModelKindError
from dwpose_core.stages.detection import DetectorContractError, PersonDetector, decode_yolox
from dwpose_core.stages.pose import WholeBodyPoseModel


def _model(outputs, input_hw=(640, 640), name="some.onnx", supports=None):
    return SimpleNamespace(output_names=list(outputs), input_hw=input_hw, path=Path(name), info="onnxruntime cpu",
                           supports_input_hw=supports, input_name="images")


def test_a_model_without_two_simcc_outputs_is_a_model_kind_error():
    with pytest.raises(ModelKindError, match="not a SimCC pose model") as info:
        WholeBodyPoseModel(_model(["a", "b", "c"], input_hw=(256, 192), name="three.onnx"))
    assert "three.onnx" in str(info.value) and not is_bug(info.value) and exit_code_for(info.value) == 2


def test_a_det_size_the_detector_cannot_run_is_a_detector_contract_error():
    fixed = _model(["output"], supports=lambda hw: False)
    with pytest.raises(DetectorContractError, match="det_size 320") as info:
        PersonDetector(fixed, det_size=320)
    assert isinstance(info.value, ValueError) and exit_code_for(info.value) == 2
    assert PersonDetector(fixed, det_size=640).input_hw == (640, 640)  # its own size is fine


def test_detector_output_of_the_wrong_size_is_a_detector_contract_error():
    with pytest.raises(DetectorContractError, match="8400"):
        decode_yolox(np.zeros((100, 85), np.float32), (640, 640))  # 640x640 YOLOX gives 8400 rows
