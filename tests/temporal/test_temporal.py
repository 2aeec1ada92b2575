"""Video temporal tools: tracking, track-aware selection, smoothing, boxes from keypoints.

Everything is measured on synthetic clips whose ground truth is known:
smooth trajectories with a fast genuine motion segment, Gaussian noise,
dropped points, spikes, and two people crossing paths.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from dwpose_core.types import FramePose, Person
from dwpose_core.temporal import (
    SmootherState,
    TrackerState,
    boxes_between,
    boxes_from_keypoints,
    context_length,
    linear_assignment,
    smooth,
    smooth_trajectories,
    track,
)
import dwpose_core.temporal.tracking as tracking_module
from dwpose_core.selection.tracks import select_tracks

N_KP = 133
THRESHOLD = 0.3
HANDS = np.r_[91:133]


# ---------------------------------------------------------------- helpers

def jitter(y, present):
    """Mean |second difference| (px) over points present in three consecutive frames."""
    ok = present[2:] & present[1:-1] & present[:-2]
    acc = np.linalg.norm(y[2:] - 2 * y[1:-1] + y[:-2], axis=-1)
    return float(acc[ok].mean())


def mean_error(y, truth, mask):
    return float(np.linalg.norm(y - truth, axis=-1)[mask].mean())


def person_clip(n_frames=150, sigma=2.0, drop=0.05, seed=0):
    """Ground truth, noisy observations and scores of one moving person.

    Smooth walk + slow sway for every point; frames 60-89 the hands wave fast
    (period 8 frames, up to 40 px, ~30 px/frame). Scores: 5% of points dropped
    (score 0) at random and the body missing for frames 100-109.
    """
    rng = np.random.default_rng(seed)
    template = rng.uniform([-60, -150], [60, 150], (N_KP, 2))
    t = np.arange(n_frames, dtype=np.float64)
    centre = np.stack([200 + 2.5 * t, 300 + 25 * np.sin(2 * np.pi * t / 70)], axis=1)
    truth = template[None] + centre[:, None, :]
    truth += 6 * np.sin(2 * np.pi * t[:, None, None] / 45 + template[None, :, :1] / 40)
    fast = (t >= 60) & (t < 90)
    envelope = np.where(fast, np.sin(np.pi * (t - 60) / 30) ** 2, 0.0)
    truth[:, HANDS, 0] += (40 * envelope * np.sin(2 * np.pi * (t - 60) / 8))[:, None]
    truth[:, HANDS, 1] += (25 * envelope * np.cos(2 * np.pi * (t - 60) / 8))[:, None]
    observed = truth + rng.normal(0, sigma, truth.shape)
    scores = rng.uniform(0.5, 1.0, (n_frames, N_KP))
    scores[rng.random((n_frames, N_KP)) < drop] = 0.0
    scores[100:110, 0:17] = 0.0
    return truth, observed, scores, fast


def to_frames(observed, scores, track_id=None, width=1000, height=700):
    frames = []
    for kp, sc in zip(observed, scores):
        box = np.r_[kp.min(0) - 10, kp.max(0) + 10]
        frames.append(FramePose(width, height, [Person(kp, sc, box, 0.9, track_id)]))
    return frames


def keypoints_of(frames, index=0):
    return np.stack([f.people[index].keypoints for f in frames]).astype(np.float64)


def crossing_scene(seed, *, scale2=0.9, speed=9.0, dy=5.0, missed=(30, 31), n_frames=60):
    """Two people walking towards each other; they meet at frame 30 (boxes overlap).

    Returns frames (people in random order per frame) and, per frame, which
    true person each entry is. Person 1 is not detected in the ``missed`` frames.
    """
    rng = np.random.default_rng(seed)
    template = rng.uniform([-50, -140], [50, 140], (N_KP, 2))
    start = 370 - 30 * speed
    walkers = [(start, speed, 300.0, 1.0), (740 - start, -speed, 300.0 + dy, scale2)]
    frames, truth = [], []
    for t in range(n_frames):
        people, who = [], []
        for k, (x0, vx, y0, s) in enumerate(walkers):
            if k == 1 and t in missed:
                continue
            kp = np.array([x0 + vx * t, y0]) + template * s + rng.normal(0, 2, (N_KP, 2))
            box = np.r_[kp.min(0) - 10, kp.max(0) + 10] + rng.normal(0, 3, 4)
            people.append(Person(kp, rng.uniform(0.5, 1, N_KP), box, 0.9))
            who.append(k)
        order = rng.permutation(len(people))
        frames.append(FramePose(800, 600, [people[i] for i in order]))
        truth.append([who[i] for i in order])
    return frames, truth


def ids_per_person(frames, truth):
    ids = {}
    for frame, who in zip(frames, truth):
        for person, k in zip(frame.people, who):
            ids.setdefault(k, set()).add(person.track_id)
    return ids


def never_swapped(ids):
    return all(len(v) == 1 for v in ids.values()) and len(set.union(*ids.values())) == len(ids)


# ---------------------------------------------------------------- assignment

def test_linear_assignment_finds_the_minimum_cost_matching():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, m = (int(v) for v in rng.integers(1, 6, 2))
        cost = rng.random((n, m)) * 10
        if rng.random() < 0.3:
            cost = np.round(cost)  # ties
        rows, cols = linear_assignment(cost)
        assert len(rows) == min(n, m) and len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
        k = min(n, m)
        if n <= m:
            best = min(cost[np.arange(n), list(p)].sum() for p in itertools.permutations(range(m), k))
        else:
            best = min(cost[list(p), np.arange(m)].sum() for p in itertools.permutations(range(n), k))
        assert cost[rows, cols].sum() == pytest.approx(best, abs=1e-9)


def test_linear_assignment_of_an_empty_matrix_is_empty():
    rows, cols = linear_assignment(np.zeros((0, 3)))
    assert rows.size == 0 and cols.size == 0


# ---------------------------------------------------------------- tracking

def test_people_crossing_paths_never_swap_identities():
    for seed in range(10):
        frames, truth = crossing_scene(seed, speed=15.0)
        track(frames)
        assert never_swapped(ids_per_person(frames, truth)), f"seed {seed}"


def test_look_alike_people_crossing_are_kept_apart_by_their_motion(monkeypatch):
    # Same size, 4 px apart vertically, fully overlapping at the crossing.
    for seed in range(12):
        frames, truth = crossing_scene(seed, scale2=1.0, dy=4.0, speed=15.0, missed=())
        track(frames)
        assert never_swapped(ids_per_person(frames, truth)), f"seed {seed}"
    # The scene is hard: without the motion prediction the tracker does swap.
    monkeypatch.setattr(tracking_module, "VELOCITY_GAIN", 0.0)
    swaps = 0
    for seed in range(12):
        frames, truth = crossing_scene(seed, scale2=1.0, dy=4.0, speed=15.0, missed=())
        track(frames)
        swaps += not never_swapped(ids_per_person(frames, truth))
    assert swaps >= 3


def test_identities_continue_across_batches_with_state():
    frames, truth = crossing_scene(3)
    whole = [f.copy() for f in frames]
    track(whole)
    state = track(frames[:25])
    returned = track(frames[25:], state)
    assert returned is state and state.frame_index == len(frames)
    assert [p.track_id for f in frames for p in f.people] == [p.track_id for f in whole for p in f.people]
    assert never_swapped(ids_per_person(frames, truth))


def test_a_track_resumes_within_max_age_and_ends_after_it():
    rng = np.random.default_rng(1)
    template = rng.uniform([-50, -140], [50, 140], (N_KP, 2))

    def frame(t, present=True):
        kp = np.array([300 + 2.0 * t, 300]) + template
        people = [Person(kp, np.ones(N_KP), np.r_[kp.min(0), kp.max(0)])] if present else []
        return FramePose(800, 600, people)

    # Absent for 5 frames, max_age 5: same id. Absent for 6: a new id.
    frames = [frame(t, not 10 <= t < 15) for t in range(20)]
    track(frames, max_age=5)
    assert {p.track_id for f in frames for p in f.people} == {0}
    frames = [frame(t, not 10 <= t < 16) for t in range(20)]
    track(frames, max_age=5)
    assert [f.people[0].track_id for f in frames if f.people] == [0] * 10 + [1] * 4


def test_a_person_entering_gets_a_new_id():
    frames, truth = crossing_scene(2, missed=tuple(range(0, 20)))  # person 1 appears at frame 20
    state = track(frames)
    ids = ids_per_person(frames, truth)
    assert ids[0] == {0} and ids[1] == {1} and state.next_id == 2


def test_track_rejects_bad_parameters():
    with pytest.raises(ValueError, match="iou_weight"):
        track([], iou_weight=1.5)
    with pytest.raises(ValueError, match="max_age"):
        track([], max_age=-1)


# ---------------------------------------------------------------- selection

def flipping_sizes_clip(seed=0, n_frames=80):
    """Two people of similar size; A is 8% larger on average but noise flips it per frame."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(n_frames):
        people = []
        for k, (x, h) in enumerate([(200.0, 300.0), (600.0, 300.0 / 1.08)]):
            hh = h * (1 + rng.normal(0, 0.08))
            box = np.array([x - hh / 4, 300 - hh / 2, x + hh / 4, 300 + hh / 2])
            kp = np.stack([rng.uniform(box[0], box[2], N_KP), rng.uniform(box[1], box[3], N_KP)], 1)
            people.append(Person(kp, np.ones(N_KP), box, 0.9, None))
        frames.append(FramePose(800, 600, [people[i] for i in rng.permutation(2)]))
    return frames


def test_select_tracks_keeps_the_same_person_every_frame():
    frames = flipping_sizes_clip()
    # Per frame, the larger box belongs to the other person now and then: a per-frame rule flips.
    per_frame = [max(f.people, key=lambda p: p.box_area).box[0] < 400 for f in frames]
    assert 5 <= sum(not a for a in per_frame)
    track(frames)
    chosen = select_tracks(frames, "largest")
    assert all(len(f.people) == 1 for f in chosen)
    assert {f.people[0].track_id for f in chosen} == {next(p.track_id for p in frames[0].people if p.box[0] < 400)}
    assert all(f.people[0].box[0] < 400 for f in chosen)  # the truly larger person (A, on the left)


def test_select_tracks_top_k_and_most_confident():
    frames = flipping_sizes_clip(1)
    for f in frames:
        for p in f.people:
            p.box_score = 0.6 if p.box[0] < 400 else 0.7  # B is the more confident
    track(frames)
    both = select_tracks(frames, "top_k", top_k=2)
    assert all(len(f.people) == 2 and f.people[0].box[0] < 400 for f in both)  # best (largest) first
    confident = select_tracks(frames, "most_confident")
    assert all(len(f.people) == 1 and f.people[0].box[0] > 400 for f in confident)


def test_select_tracks_counts_absent_frames_so_a_brief_big_person_does_not_win():
    frames = flipping_sizes_clip(2)
    big = Person(np.zeros((N_KP, 2)), np.ones(N_KP), [0, 0, 500, 590], 0.9)
    for f in frames[:3]:
        f.people.append(big.copy())
    track(frames)
    chosen = select_tracks(frames, "largest")
    assert all(len(f.people) == 1 and f.people[0].box[0] > 100 for f in chosen)


def test_select_tracks_with_state_keeps_the_choice_across_batches():
    frames = flipping_sizes_clip(3)
    state = TrackerState()
    picked = []
    for part in (frames[:20], frames[20:]):
        track(part, state)
        picked += [f.people[0].box[0] < 400 for f in select_tracks(part, "largest", state=state)]
    assert all(picked)


def test_select_tracks_needs_track_ids():
    with pytest.raises(ValueError, match="track"):
        select_tracks(flipping_sizes_clip(), "largest")


def test_select_tracks_does_not_modify_the_input():
    frames = flipping_sizes_clip()
    track(frames)
    select_tracks(frames, "largest")
    assert all(len(f.people) == 2 for f in frames)


# ---------------------------------------------------------------- boxes between detections

def test_box_from_keypoints_encloses_present_points_with_margin():
    kp = np.full((N_KP, 2), 5.0)
    scores = np.zeros(N_KP)
    kp[:3] = [[100, 200], [160, 260], [130, 500]]
    scores[:3] = 0.9
    kp[3] = [700, 20]  # missing point far away: ignored
    scores[3] = 0.1
    person = Person(kp, scores, [0, 0, 1, 1])
    box = boxes_from_keypoints(person, 1000, 1000, margin=0.1)
    # extent 60 x 300 -> widened by 6 and 30 on each side
    np.testing.assert_allclose(box, [94, 170, 166, 530], atol=1e-4)


def test_box_from_keypoints_is_clipped_to_the_frame():
    kp = np.zeros((N_KP, 2))
    kp[:2] = [[5, 10], [95, 190]]
    scores = np.zeros(N_KP)
    scores[:2] = 1
    box = boxes_from_keypoints(Person(kp, scores, [0, 0, 1, 1]), 100, 200, margin=0.2)
    np.testing.assert_allclose(box, [0, 0, 100, 200])


def test_box_from_keypoints_falls_back_to_the_detection_box():
    person = Person(np.zeros((N_KP, 2)), np.zeros(N_KP), [10, 20, 30, 40])
    np.testing.assert_allclose(boxes_from_keypoints(person, 100, 100), [10, 20, 30, 40])


def walker(t, template, speed=10.0):
    kp = np.array([100 + speed * t, 300.0]) + template
    return Person(kp, np.ones(N_KP), np.r_[kp.min(0) - 5, kp.max(0) + 5], 0.8)


def inside(points, box):
    return (points[:, 0] >= box[0]) & (points[:, 0] <= box[2]) & (points[:, 1] >= box[1]) & (points[:, 1] <= box[3])


def test_boxes_between_key_frames_follow_a_fast_walker():
    template = np.random.default_rng(4).uniform([-80, -120], [80, 120], (N_KP, 2))
    keys = [FramePose(1200, 600, [walker(t, template)]) for t in (0, 6)]
    track(keys)
    for t in range(1, 6):
        (box, score, tid), = boxes_between(keys[0], keys[1], t / 6)
        truth = walker(t, template).keypoints
        assert inside(truth, box).all() and tid == keys[0].people[0].track_id and score == pytest.approx(0.8)
    # Holding the first key frame's box instead loses part of the walker (50 px later).
    held = boxes_from_keypoints(keys[0].people[0], 1200, 600)
    assert inside(walker(5, template).keypoints, held).mean() < 0.9


def test_boxes_between_without_a_match_hold_the_earlier_box():
    template = np.random.default_rng(5).uniform([-80, -120], [80, 120], (N_KP, 2))
    before = FramePose(1200, 600, [walker(0, template)])
    expected = boxes_from_keypoints(before.people[0], 1200, 600)
    for after in (None, FramePose(1200, 600, [])):
        (box, score, tid), = boxes_between(before, after, 0.5)
        np.testing.assert_allclose(box, expected)
    with pytest.raises(ValueError, match="t must"):
        boxes_between(before, None, 1.5)


# ---------------------------------------------------------------- smoothing

def test_smoothing_cuts_jitter_by_60_percent_without_raising_the_error():
    for seed in range(3):
        truth, observed, scores, _ = person_clip(seed=seed)
        present = scores >= THRESHOLD
        out = keypoints_of(smooth(to_frames(observed, scores)))
        raw_jitter, new_jitter = jitter(observed, present), jitter(out, present)
        assert new_jitter <= 0.4 * raw_jitter, (raw_jitter, new_jitter)
        assert mean_error(out, truth, present) <= mean_error(observed, truth, present)


def test_fast_genuine_motion_is_not_dragged():
    truth, observed, scores, fast = person_clip(seed=4)
    present = scores >= THRESHOLD
    hands_fast = present.copy()
    hands_fast[~fast] = False
    hands_fast[:, :91] = False
    out = keypoints_of(smooth(to_frames(observed, scores)))
    assert mean_error(out, truth, hands_fast) <= mean_error(observed, truth, hands_fast)
    # A plain fixed-width smoother of the same width does drag it: the scene is a real test.
    fixed = keypoints_of(smooth(to_frames(observed, scores), motion_tolerance=1e9))
    assert mean_error(fixed, truth, hands_fast) > 2 * mean_error(observed, truth, hands_fast)


def test_a_sudden_swipe_is_followed():
    # 120 px in 5 frames (smoothstep), still before and after.
    n = 80
    t = np.arange(n)
    s = np.clip((t - 40) / 5, 0, 1)
    x = 300 + 120 * s * s * (3 - 2 * s)
    truth = np.zeros((n, N_KP, 2))
    truth[..., 0] = x[:, None]
    truth[..., 1] = 200
    observed = truth + np.random.default_rng(7).normal(0, 2, truth.shape)
    scores = np.ones((n, N_KP))
    out = smooth_trajectories(observed, scores)
    window = np.zeros((n, N_KP), bool)
    window[36:50] = True
    assert mean_error(out, truth, window) <= mean_error(observed, truth, window)


def test_noise_free_constant_acceleration_is_reproduced_exactly():
    # Zero lag: a quadratic path comes back unchanged, at the ends too.
    t = np.arange(40, dtype=np.float64)[:, None]
    y = np.zeros((40, N_KP, 2))
    y[..., 0] = 100 + 7 * t + 0.3 * t**2
    y[..., 1] = 400 - 3 * t + 0.05 * t**2
    out = smooth_trajectories(y, np.ones((40, N_KP)), strength=2.0)
    np.testing.assert_allclose(out, y, atol=1e-6)


def test_missing_points_stay_missing():
    truth, observed, scores, _ = person_clip(seed=5)
    frames = to_frames(observed, scores)
    out = smooth(frames)
    missing = scores < THRESHOLD
    got_kp, got_scores = keypoints_of(out), np.stack([f.people[0].scores for f in out])
    np.testing.assert_array_equal(got_scores, np.stack([f.people[0].scores for f in frames]))
    np.testing.assert_array_equal(got_kp[missing], keypoints_of(frames)[missing])
    # and present points did move (smoothing happened)
    assert np.abs(got_kp[~missing] - observed[~missing]).mean() > 0.5


def test_gaps_are_not_bridged():
    # Each run of present frames is smoothed exactly as if it were alone.
    truth, observed, scores, _ = person_clip(seed=6, drop=0.1)
    noise = np.full(N_KP, 2.0)
    whole = smooth_trajectories(observed, scores, noise=noise)
    present = scores >= THRESHOLD
    for k in (0, 5, 50, 100, 120):
        runs = np.flatnonzero(np.diff(np.r_[0, present[:, k].astype(int), 0]))
        for start, stop in zip(runs[::2], runs[1::2]):
            alone_scores = np.zeros_like(scores[:, k:k + 1])
            alone_scores[start:stop] = scores[start:stop, k:k + 1]
            alone = smooth_trajectories(observed[:, k:k + 1], alone_scores, noise=noise[k:k + 1])
            np.testing.assert_allclose(whole[start:stop, k], alone[start:stop, 0], atol=1e-9)


def test_a_jump_across_a_gap_does_not_pull_the_neighbours():
    # A point vanishes for 3 frames and comes back 80 px away (e.g. re-detected elsewhere).
    n = 60
    truth = np.zeros((n, N_KP, 2))
    truth[..., 0] = 300.0
    truth[..., 1] = 200.0
    truth[33:, :, 0] += 80
    observed = truth + np.random.default_rng(8).normal(0, 1.5, truth.shape)
    scores = np.ones((n, N_KP))
    scores[30:33] = 0
    out = smooth_trajectories(observed, scores)
    assert np.abs(out[[28, 29, 33, 34]] - truth[[28, 29, 33, 34]]).max() < 6


def test_a_one_frame_spike_is_rejected():
    truth, observed, scores, _ = person_clip(seed=9, drop=0.0)
    spiked = observed.copy()
    rng = np.random.default_rng(9)
    frames_hit = rng.choice(np.r_[5:55, 115:145], 30, replace=False)
    points = rng.choice(91, 30)
    spiked[frames_hit, points] += [45.0, -30.0]
    hit = np.zeros(scores.shape, bool)
    hit[frames_hit, points] = True
    robust = smooth_trajectories(spiked, scores)
    plain = smooth_trajectories(spiked, scores, outlier_sigma=None)
    assert mean_error(robust, truth, hit) < 6 < mean_error(plain, truth, hit)


def test_short_runs_are_left_as_they_are():
    y = np.random.default_rng(0).normal(100, 5, (7, N_KP, 2))
    scores = np.array([1, 0, 1, 1, 0, 0, 1], float)[:, None].repeat(N_KP, 1)
    out = smooth_trajectories(y, scores)
    # one- and two-frame runs: a quadratic fit through them passes through every point
    np.testing.assert_allclose(out, y, atol=1e-6)


def test_strength_zero_is_off_and_the_input_is_never_modified():
    truth, observed, scores, _ = person_clip(seed=1)
    frames = to_frames(observed, scores)
    before = keypoints_of(frames)
    off = smooth(frames, strength=0)
    np.testing.assert_array_equal(keypoints_of(off), before)
    assert off[0].people[0] is not frames[0].people[0]
    smooth(frames, strength=1.5)
    np.testing.assert_array_equal(keypoints_of(frames), before)
    with pytest.raises(ValueError, match="strength"):
        smooth(frames, strength=-1)


def test_stronger_smoothing_removes_more_jitter_on_a_still_person():
    rng = np.random.default_rng(3)
    truth = np.broadcast_to(rng.uniform(100, 400, (1, N_KP, 2)), (100, N_KP, 2))
    observed = truth + rng.normal(0, 2, truth.shape)
    scores = np.ones((100, N_KP))
    present = scores > 0
    j = [jitter(smooth_trajectories(observed, scores, strength=s), present) for s in (0.5, 1.0, 2.0)]
    assert j[0] > j[1] > j[2]


def test_each_track_is_smoothed_on_its_own_and_ids_are_assigned_when_missing():
    t1, o1, s1, _ = person_clip(seed=10)
    t2, o2, s2, _ = person_clip(seed=11)
    o2, t2 = o2 + [400, 50], t2 + [400, 50]
    frames = []
    for i in range(len(o1)):
        a = Person(o1[i], s1[i], np.r_[o1[i].min(0), o1[i].max(0)], 0.9)
        b = Person(o2[i], s2[i], np.r_[o2[i].min(0), o2[i].max(0)], 0.9)
        frames.append(FramePose(1400, 800, [a, b] if i % 2 else [b, a]))
    out = smooth(frames)
    assert all({p.track_id for p in f.people} == {0, 1} for f in out)
    assert all(p.track_id is None for f in frames for p in f.people)  # input untouched
    first_id = min(out[0].people, key=lambda p: p.box[0]).track_id  # the left one at the start is person 1
    for truth, observed, scores, tid in ((t1, o1, s1, first_id), (t2, o2, s2, 1 - first_id)):
        got = np.stack([next(p for p in f.people if p.track_id == tid).keypoints for f in out])
        present = scores >= THRESHOLD
        assert jitter(got, present) <= 0.4 * jitter(observed, present)
        assert mean_error(got, truth, present) <= mean_error(observed, truth, present)


def test_two_batches_with_state_match_one_batch():
    truth, observed, scores, _ = person_clip(seed=12)
    split = 45
    frames = to_frames(observed, scores)
    whole = keypoints_of(smooth(frames))
    state = SmootherState()
    first = smooth(frames[:split], state=state)
    second = smooth(frames[split:], state=state)
    chunked = keypoints_of(first + second)
    # ids were assigned by the state's tracker and continue
    assert {p.track_id for f in first + second for p in f.people} == {0}
    # The second batch sees the first through the state: identical to the single run.
    np.testing.assert_allclose(chunked[split:], whole[split:], atol=1e-3)
    # The first batch could not see the future (its last frames, and its noise
    # estimate from fewer frames): close to the single run, not identical.
    present = scores >= THRESHOLD
    assert np.linalg.norm(chunked - whole, axis=-1)[present].mean() < 0.1
    assert mean_error(chunked, truth, present) <= 1.05 * mean_error(whole, truth, present)
    # The first batch is exactly what it would be alone (the state only adds context later).
    np.testing.assert_allclose(keypoints_of(first), keypoints_of(smooth(frames[:split])), atol=1e-4)
    # The join is smooth: far below the raw jitter, and well below two independent batches.
    near = slice(split - 5, split + 5)
    independent = keypoints_of(smooth(frames[:split]) + smooth(frames[split:]))
    joined, apart, raw = (jitter(y[near], present[near]) for y in (chunked, independent, observed))
    assert joined < 0.85 * apart and joined < 0.25 * raw


def test_state_forgets_tracks_that_left():
    truth, observed, scores, _ = person_clip(seed=13, n_frames=60)
    state = SmootherState()
    smooth(to_frames(observed[:30], scores[:30], track_id=7), state=state)
    assert set(state.tails) == {7} and set(state.noise) == {7}
    empty = [FramePose(1000, 700, []) for _ in range(context_length(1.0) + 1)]
    smooth(empty, state=state)
    assert state.tails == {} and state.noise == {}


def test_noise_level_is_measured_from_the_clip_despite_motion_and_gaps():
    from dwpose_core.temporal.smoothing import _d2_histogram, _noise_sigma, _segments

    for sigma in (0.5, 3.0):
        truth, _, scores, _ = person_clip(seed=14, drop=0.1)
        observed = truth + np.random.default_rng(15).normal(0, sigma, truth.shape)
        estimate = _noise_sigma(_d2_histogram(observed, _segments(scores >= THRESHOLD)))
        assert np.median(estimate) == pytest.approx(sigma, rel=0.1)
