"""Retargeting hostile and degenerate inputs (issue 24, item 15): the command line and the function
finish without any numpy RuntimeWarning (no division by zero, no mean of an empty array), and a
degenerate reference still gives finite poses.

Each case runs under ``warnings.simplefilter("error")``, so a warning fails the test where it occurs.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from dwpose_core.animate.retarget import RetargetError, retarget
from dwpose_core.formats.pose_json import from_pose_keypoint, save_json, to_pose_keypoint
from dwpose_core.types import FramePose, Person

from test_retarget import DRIVER, STANDING, clip, make_person, reference_frame


def _edited(fn, n=4):
    frames = clip(n)
    for f in frames:
        for p in f.people:
            fn(p)
    return frames


def _drop(*idx):
    def fn(p):
        p.scores[list(idx)] = 0.0
    return fn


def _set(fn_kp):
    def fn(p):
        fn_kp(p.keypoints)
    return fn


def _only(*idx):
    def fn(p):
        keep = p.scores[list(idx)].copy()
        p.scores[:] = 0.0
        p.scores[list(idx)] = keep
    return fn


def _with_extra_person_in_one_frame():
    frames = clip(3)
    frames[1].people.append(make_person((100, 100), STANDING, DRIVER))
    return frames


def _with_gaps():
    frames = clip(4)
    frames[1].people, frames[2].people = [], []
    return frames


DRIVING = {
    "a bone always missing": lambda: _edited(_drop(7, 9)),
    "no shoulders": lambda: _edited(_drop(5, 6)),
    "all scores zero": lambda: _edited(lambda p: p.scores.__setitem__(slice(None), 0.0)),
    "every point in one place": lambda: _edited(_set(lambda kp: kp.__setitem__(slice(None), 100.0))),
    "a zero-length bone": lambda: _edited(_set(lambda kp: kp.__setitem__(7, kp[5]))),
    "zero-size hands and face": lambda: _edited(_set(lambda kp: (kp.__setitem__(slice(91, 133), kp[91]),
                                                                  kp.__setitem__(slice(23, 91), kp[23])))),
    "one point": lambda: _edited(_only(3)),
    "feet only": lambda: _edited(_only(*range(15, 23))),
    "a single frame": lambda: clip(1),
    "frames without people": lambda: [FramePose(100, 100) for _ in range(3)],
    "gaps": _with_gaps,
    "a person in one frame only": _with_extra_person_in_one_frame,
}


def _ref_person(kp, scores):
    return FramePose(100, 100, [Person(np.asarray(kp, float), np.asarray(scores, float),
                                       np.array([0.0, 0.0, 10.0, 10.0]), 0.9)])


def _ref_zero_size_parts():
    ref = reference_frame()
    kp = ref.people[0].keypoints
    kp[91:133], kp[23:91] = kp[91], kp[23]
    return ref


REFERENCES = {
    "normal": reference_frame,
    "one point": lambda: _ref_person(np.full((133, 2), 5.0), np.r_[0.9, np.zeros(132)]),
    "every point in one place": lambda: _ref_person(np.full((133, 2), 5.0), np.full(133, 0.9)),
    "all coordinates zero": lambda: _ref_person(np.zeros((133, 2)), np.full(133, 0.9)),
    "body only": lambda: _ref_person(reference_frame().people[0].keypoints, np.r_[np.full(23, 0.9), np.zeros(110)]),
    "zero-size hands and face": _ref_zero_size_parts,
}


@pytest.mark.parametrize("quantile", [1e-6, 1.0])
@pytest.mark.parametrize("ref_name", list(REFERENCES))
@pytest.mark.parametrize("drive_name", list(DRIVING))
def test_retarget_of_degenerate_inputs_warns_nothing_and_stays_finite(drive_name, ref_name, quantile):
    frames, reference = DRIVING[drive_name](), REFERENCES[ref_name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for symmetric in (True, False):
            out = retarget(frames, reference, quantile=quantile, symmetric=symmetric)
            assert len(out) == len(frames)
            for f_in, f_out in zip(frames, out):
                assert len(f_out.people) == len(f_in.people)
                for p in f_out.people:
                    assert np.isfinite(p.keypoints).all() and np.isfinite(p.box).all()


def test_a_reference_whose_points_coincide_keeps_the_driver_scale():
    """No bone of the reference has a length, so no scale comes from its bones nor its extent: the
    global scale is 1 and every (zero) ratio is clamped to 1 / max_ratio_spread (before: a division
    by zero and NaN poses)."""
    frames = clip(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = retarget(frames, REFERENCES["every point in one place"](), max_ratio_spread=2.5)
    for f_in, f_out in zip(frames, out):
        a, b = f_in.people[0].keypoints, f_out.people[0].keypoints
        assert np.linalg.norm(b[9] - b[7]) == pytest.approx(np.linalg.norm(a[9] - a[7]) / 2.5, rel=1e-6)
        assert np.linalg.norm(b[13] - b[11]) == pytest.approx(np.linalg.norm(a[13] - a[11]) / 2.5, rel=1e-6)


@pytest.mark.parametrize("drive_name", ["a bone always missing", "all scores zero", "a zero-length bone",
                                        "a single frame", "a person in one frame only", "frames without people"])
@pytest.mark.parametrize("ref_name", ["normal", "every point in one place", "one point"])
@pytest.mark.parametrize("quantile", ["1", "0.000001"])
def test_cli_retarget_prints_no_runtime_warning(tmp_path, capsys, drive_name, ref_name, quantile):
    from dwpose_core.cli.retarget import main

    pose, ref = tmp_path / "drive.json", tmp_path / "ref.json"
    save_json(pose, to_pose_keypoint(DRIVING[drive_name]()))
    save_json(ref, to_pose_keypoint([REFERENCES[ref_name]()]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main([str(pose), "--reference", str(ref), "--out", str(tmp_path / "o.json"), "--quantile", quantile])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Warning" not in err
    assert len(from_pose_keypoint((tmp_path / "o.json").read_text())) == len(DRIVING[drive_name]())


def test_reference_with_no_person_is_still_a_clear_error():
    with pytest.raises(RetargetError, match="no person"):
        retarget(clip(2), FramePose(100, 100))
