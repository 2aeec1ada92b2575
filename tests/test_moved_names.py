"""Names the README of release 0.1 documented keep importing from their old places, with a
DeprecationWarning that names the new place (the shims go in the next release)."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MOVED = [
    ("dwpose_core.people", "choose", "dwpose_core.selection.people"),
    ("dwpose_core.retarget", "retarget", "dwpose_core.animate.retarget"),
    ("dwpose_core.face_crops", "face_crops", "dwpose_core.animate.face_crops"),
]


@pytest.mark.parametrize("old, name, new", MOVED)
def test_an_old_module_name_gives_the_new_module_with_a_warning(old, name, new):
    code = (f"import warnings; warnings.simplefilter('always')\n"
            f"with warnings.catch_warnings(record=True) as w:\n"
            f"    from {old} import {name} as a\n"
            f"from {new} import {name} as b\n"
            f"assert a is b\n"
            f"print([str(x.message) for x in w if x.category is DeprecationWarning])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"{old} moved to {new}" in out.stdout


def test_select_tracks_from_temporal_warns_and_is_the_selection_function():
    new = importlib.import_module("dwpose_core.selection.tracks").select_tracks
    temporal = importlib.import_module("dwpose_core.temporal")
    with pytest.warns(DeprecationWarning, match="dwpose_core.selection.tracks"):
        assert temporal.select_tracks is new


def test_documented_public_names_import_without_warnings():
    code = ("import warnings; warnings.simplefilter('error')\n"
            "from dwpose_core.annotate import AnnotateOptions, Parts, PoseAnnotator, ClipState\n"
            "from dwpose_core.estimator_pool import ModelSetup\n"
            "from dwpose_core.pipeline import WholeBodyEstimator\n"
            "from dwpose_core.formats import to_pose_keypoint, from_pose_keypoint, FormatError\n"
            "from dwpose_core.render import draw_pose\n"
            "from dwpose_core.temporal import track, smooth, TrackerState, SmootherState\n"
            "import dwpose_core; dwpose_core.WholeBodyEstimator; dwpose_core.draw_pose; dwpose_core.to_rgb_uint8\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
