"""dwpose_core.editor.apply: stored hand edits re-applied to poses; ground truth worked out by hand."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dwpose_core.editor import apply as E
from dwpose_core.editor.tables import MIRROR, default_pose, editor_tables
from dwpose_core.types import FramePose, Person

W, H = 640, 480
L_WRIST, R_WRIST = 9, 10


def person(x0, y0=100.0, track_id=None, score=0.9):
    """133 points on a grid starting at (x0, y0): point j at (x0 + j % 10, y0 + j // 10 * 2)."""
    j = np.arange(133)
    kp = np.stack([x0 + j % 10, y0 + (j // 10) * 2.0], axis=1)
    return Person(kp, np.full(133, score), [x0, y0, x0 + 10, y0 + 30], 0.9, track_id)


def clip(n, people_at):
    """n frames; people_at(f) -> list of Person."""
    return [FramePose(W, H, people_at(f)) for f in range(n)]


def point(frames, f, who, j):
    p = frames[f].people[who]
    return p.keypoints[j].astype(float).tolist(), float(p.scores[j])


def doc(keys, added=None):
    return json.dumps({"version": 1, "added": added or {}, "keys": keys})


def test_a_change_at_a_key_frame_moves_the_point_there_only():
    frames = clip(3, lambda f: [person(100.0)])
    out = E.apply_edits(frames, doc({"1": {"i0": {"pts": {"12": {"d": [5, -3]}}}}}))
    assert point(out, 1, 0, 12)[0] == pytest.approx([100 + 2 + 5, 100 + 2 - 3])
    assert point(out, 1, 0, 11)[0] == pytest.approx([101, 102])  # other points unchanged
    assert point(out, 0, 0, 12)[0] == pytest.approx([102, 102])  # no key before: no edit
    assert point(out, 2, 0, 12)[0] == pytest.approx([102, 102])  # nor after the last key
    assert point(frames, 1, 0, 12)[0] == pytest.approx([102, 102])  # the input is not changed


def test_between_key_frames_the_change_is_interpolated_and_the_detected_motion_kept():
    # the detected point moves 3 px right per frame; keys: +10 at frame 0, +20 at frame 10
    frames = clip(11, lambda f: [person(100.0 + 3 * f)])
    out = E.apply_edits(frames, doc({"0": {"i0": {"pts": {"0": {"d": [10, 0]}}}},
                                     "10": {"i0": {"pts": {"0": {"d": [20, 4]}}}}}))
    for f in range(11):
        expected = [100 + 3 * f + 10 + f, 100 + 0.4 * f]
        assert point(out, f, 0, 0)[0] == pytest.approx(expected, abs=1e-4)


def test_edits_follow_the_track_id_when_the_input_changes():
    edits = doc({"0": {"t7": {"pts": {str(L_WRIST): {"d": [4, 6]}}}}})
    first = [FramePose(W, H, [person(100.0, track_id=3), person(300.0, track_id=7)])]
    out = E.apply_edits(first, edits)
    assert point(out, 0, 1, L_WRIST)[0] == pytest.approx([309 + 4, 100 + 6])
    assert point(out, 0, 0, L_WRIST)[0] == pytest.approx([109, 100])
    # re-detected: people in the other order, track 7 moved; the edit stays on track 7's wrist
    changed = [FramePose(W, H, [person(420.0, y0=50.0, track_id=7), person(100.0, track_id=3)])]
    out = E.apply_edits(changed, edits)
    assert point(out, 0, 0, L_WRIST)[0] == pytest.approx([429 + 4, 50 + 6])
    assert point(out, 0, 1, L_WRIST)[0] == pytest.approx([109, 100])


def test_without_track_ids_edits_follow_the_position_in_the_frame():
    frames = [FramePose(W, H, [person(100.0), person(300.0)])]
    out = E.apply_edits(frames, doc({"0": {"i1": {"pts": {"0": {"d": [1, 2]}}}}}))
    assert point(out, 0, 1, 0)[0] == pytest.approx([301, 102])
    assert point(out, 0, 0, 0)[0] == pytest.approx([100, 100])


def test_a_point_marked_missing_is_absent_until_the_next_key():
    frames = clip(6, lambda f: [person(100.0)])
    out = E.apply_edits(frames, doc({"1": {"i0": {"pts": {"5": {"off": 1}}}},
                                     "4": {"i0": {"pts": {"5": {"d": [2, 0]}}}}}))
    assert [point(out, f, 0, 5)[1] for f in range(6)] == pytest.approx([0.9, 0, 0, 0, 0.9, 0.9])
    assert point(out, 4, 0, 5)[0] == pytest.approx([107, 100])


def test_a_point_placed_where_the_detector_lost_it_is_interpolated_as_a_position():
    def people(f):
        p = person(100.0 + f)
        p.scores[R_WRIST] = 0.0  # lost foot / wrist: no detected point to change
        return [p]

    frames = clip(5, people)
    out = E.apply_edits(frames, doc({"0": {"i0": {"pts": {str(R_WRIST): {"p": [200, 300]}}}},
                                     "4": {"i0": {"pts": {str(R_WRIST): {"p": [240, 260]}}}}}))
    for f in range(5):
        xy, score = point(out, f, 0, R_WRIST)
        assert xy == pytest.approx([200 + 10 * f, 300 - 10 * f]) and score == 1.0


def test_a_change_of_a_point_the_detector_lost_leaves_it_lost():
    def people(f):
        p = person(100.0)
        if f == 1:
            p.scores[3] = 0.1
        return [p]

    out = E.apply_edits(clip(3, people), doc({"0": {"i0": {"pts": {"3": {"d": [5, 5]}}}},
                                              "2": {"i0": {"pts": {"3": {"d": [5, 5]}}}}}))
    assert point(out, 1, 0, 3) == ([103.0, 100.0], pytest.approx(0.1))
    assert point(out, 2, 0, 3)[0] == pytest.approx([108, 105])


def test_deleting_a_person_on_two_key_frames_deletes_it_in_between():
    frames = clip(8, lambda f: [person(100.0, track_id=1), person(300.0, track_id=2)])
    out = E.apply_edits(frames, doc({"2": {"t2": {"del": 1}}, "5": {"t2": {"del": 1}}}))
    assert [len(f.people) for f in out] == [2, 2, 1, 1, 1, 1, 2, 2]
    assert all(f.people[0].track_id == 1 for f in out)


def test_an_added_person_exists_on_its_key_frames_with_a_new_track_id():
    base = [[50 + j, 60 + j] for j in range(133)]
    frames = clip(6, lambda f: [person(100.0, track_id=4)])
    out = E.apply_edits(frames, doc({"1": {"a1": {"del": 0}}, "3": {"a1": {"del": 0, "pts": {"0": {"d": [1, 1]}}}}},
                                    added={"a1": {"base": base}}))
    assert [len(f.people) for f in out] == [1, 2, 2, 2, 1, 1]
    added = out[2].people[1]
    assert added.track_id == 5 and float(added.scores.min()) == 1.0
    assert added.keypoints[7].tolist() == pytest.approx([57, 67])
    assert out[2].people[1].keypoints[0].tolist() == pytest.approx([50, 60])  # the point's only key is at 3
    assert out[3].people[1].keypoints[0].tolist() == pytest.approx([51, 61])
    assert added.box.tolist() == pytest.approx([50, 60, 182, 192])


def test_swapping_left_and_right_exchanges_the_labels_and_mirroring_reflects_too():
    frames = [FramePose(W, H, [person(100.0)])]
    swapped = E.apply_edits(frames, doc({"0": {"i0": {"lr": 1}}}))
    p, q = frames[0].people[0], swapped[0].people[0]
    assert q.keypoints[L_WRIST].tolist() == p.keypoints[R_WRIST].tolist()
    assert q.keypoints[91].tolist() == p.keypoints[112].tolist()  # left hand <- right hand
    mirrored = E.apply_edits(frames, doc({"0": {"i0": {"lr": 2, "pts": {"0": {"d": [1, 0]}}}}}))
    m = mirrored[0].people[0]
    centre = (100 + 109) / 2  # middle of the present points' x range
    rx, ry = p.keypoints[R_WRIST]
    assert m.keypoints[L_WRIST].tolist() == pytest.approx([2 * centre - rx, ry])
    assert m.keypoints[0].tolist() == pytest.approx([2 * centre - 100 + 1, 100])  # change applies after


def test_applying_a_frame_to_a_range_makes_its_change_constant_there():
    frames = clip(12, lambda f: [person(100.0 + f)])
    edits = doc({"2": {"i0": {"pts": {"0": {"d": [6, 0]}}}}, "6": {"i0": {"pts": {"0": {"d": [30, 0]}}}},
                 "10": {"i0": {"pts": {"0": {"d": [0, 0]}}}}})
    # frame 4 is interpolated: +18; carry it over 3..8 (the key at 6 goes)
    new = E.apply_to_range(edits, frames, 4, 3, 8)
    assert E.key_frames(new) == [2, 3, 8, 10]
    out = E.apply_edits(frames, new)
    dx = [point(out, f, 0, 0)[0][0] - (100 + f) for f in range(12)]
    assert dx == pytest.approx([0, 0, 6, 18, 18, 18, 18, 18, 18, 9, 0, 0])


def test_reset_clears_everything_or_one_frame_or_one_person():
    edits = doc({"1": {"i0": {"del": 1}, "a1": {"del": 0}}, "2": {"i0": {"lr": 1}}},
                added={"a1": {"base": [[0, 0]] * 133}})
    assert E.dump_edits(E.reset(edits)) == ""
    assert E.key_frames(E.reset(edits, frame=1)) == [2]
    only = E.reset(edits, person="a1")
    assert only["added"] == {} and list(only["keys"]["1"]) == ["i0"]


def test_pose_keypoint_in_and_out():
    from dwpose_core.formats.pose_json import to_pose_keypoint

    pk = to_pose_keypoint([FramePose(W, H, [person(100.0, track_id=2)])])
    out = E.apply_to_pose_keypoint(pk, doc({"0": {"t2": {"pts": {"0": {"d": [3, 4]}}}}}))
    wb = np.asarray(out[0]["people"][0]["wholebody_keypoints_2d"]).reshape(133, 3)
    assert wb[0].tolist() == pytest.approx([103, 104, 0.9])
    assert out[0]["people"][0]["pose_keypoints_2d"][:3] == pytest.approx([103, 104, 1.0])
    assert E.apply_to_pose_keypoint(pk, "")[0]["people"][0]["wholebody_keypoints_2d"] == \
        pk[0]["people"][0]["wholebody_keypoints_2d"]


@pytest.mark.parametrize("bad, field", [
    ("{nope", "not valid JSON"), ('{"keys": {"x": {}}}', "keys.x"),
    ('{"keys": {"0": {"i0": {"pts": {"0": {"d": [1]}}}}}}', "keys.0.i0.pts.0.d"),
    ('{"keys": {"0": {"i0": {"lr": 5}}}}', "keys.0.i0.lr"),
    ('{"keys": {"0": {"i0": {"pts": {"140": {"off": 1}}}}}}', "0..132"),
])
def test_unreadable_edits_are_a_clear_error(bad, field):
    with pytest.raises(E.EditError, match=field.replace(".", r"\.").replace("(", r"\(")):
        E.parse_edits(bad)


def test_the_mirror_map_pairs_left_with_right():
    assert all(MIRROR[MIRROR[j]] == j for j in range(133))
    assert MIRROR[5] == 6 and MIRROR[17] == 20 and MIRROR[91 + 4] == 112 + 4
    assert MIRROR[23 + 0] == 23 + 16 and MIRROR[23 + 36] == 23 + 45 and MIRROR[23 + 30] == 23 + 30


def test_the_default_pose_faces_the_viewer_and_its_tables_are_json():
    pose = np.asarray(default_pose())
    assert pose.shape == (133, 2)
    left = [1, 3, 5, 7, 9, 11, 13, 15, 17, 18, 19]
    assert (pose[left, 0] > 0).all() and (pose[[MIRROR[j] for j in left], 0] < 0).all()
    assert np.allclose(pose[[MIRROR[j] for j in range(133)], 0], -pose[:, 0], atol=1e-3)  # symmetric
    tables = json.loads(json.dumps(editor_tables()))
    assert tables["limbs"][0] == [1, 2] and tables["colors"][0] == [255, 0, 0] and len(tables["names"]) == 133


LEFT_HAND, RIGHT_HAND = range(91, 112), range(112, 133)


def off(points):
    return {str(j): {"off": 1} for j in points}


def test_hiding_both_hands_takes_hands_out_of_the_parts_list():
    """P on each hand zeroes its points: the person's parts must say so, in the frames where it applies."""
    from dwpose_core.formats.pose_json import to_pose_keypoint

    frames = clip(3, lambda f: [person(100.0)])
    out = E.apply_edits(frames, doc({"1": {"i0": {"pts": {**off(LEFT_HAND), **off(RIGHT_HAND)}}}}))
    assert out[1].people[0].parts == ("body", "face", "feet")
    assert float(out[1].people[0].scores[91:133].max()) == 0.0
    assert out[0].people[0].parts == ("body", "hands", "face", "feet")  # before the key: no edit there
    written = to_pose_keypoint(out)[1]["people"][0]
    assert written["parts"] == ["body", "face", "feet"]
    assert written["hand_left_keypoints_2d"] == [0.0] * 63 and written["hand_right_keypoints_2d"] == [0.0] * 63


def test_hiding_one_hand_keeps_hands_while_the_other_shows():
    frames = clip(1, lambda f: [person(100.0)])
    (frame,) = E.apply_edits(frames, doc({"0": {"i0": {"pts": off(LEFT_HAND)}}}))
    assert "hands" in frame.people[0].parts and float(frame.people[0].scores[112:133].min()) > 0.3


def test_hiding_the_last_present_hand_of_a_person_takes_hands_out():
    """The other hand was not detected (scores 0): hiding this one leaves no hand, so no 'hands'."""
    def lost_right_hand(f):
        p = person(100.0)
        p.scores[112:133] = 0.0
        return [p]

    (frame,) = E.apply_edits(clip(1, lost_right_hand), doc({"0": {"i0": {"pts": off(LEFT_HAND)}}}))
    assert "hands" not in frame.people[0].parts
    (untouched,) = E.apply_edits(clip(1, lost_right_hand), "")
    assert "hands" in untouched.people[0].parts  # enabled but not found is not the editor's business


def test_restoring_a_point_of_a_switched_off_part_lists_the_part_again():
    def handless(f):
        p = person(100.0)
        p.parts = ("body", "face", "feet")
        p.scores[91:133] = 0.0
        return [p]

    (frame,) = E.apply_edits(clip(1, handless), doc({"0": {"i0": {"pts": {"95": {"p": [300.0, 200.0]}}}}}))
    assert "hands" in frame.people[0].parts
    assert frame.people[0].keypoints[95].tolist() == [300.0, 200.0]
