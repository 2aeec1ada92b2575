"""Skeleton facts as data: keypoint layouts, the OpenPose mapping, limb pairs and colours.

Every table that rendering and the JSON formats need lives here, once, with the two rules
computed from them that both use: the "present" rule (:func:`present_mask`: score >=
threshold, finite) and the OpenPose-18 view (:func:`openpose18`, neck = shoulder midpoint).
Sources: COCO-WholeBody (133 points), OpenPose-18 body, and the OpenPose
drawing conventions that ControlNet's openpose models were trained on.
"""
from __future__ import annotations

import colorsys

import numpy as np

NUM_KEYPOINTS = 133

# COCO-WholeBody index ranges (half-open).
BODY = range(0, 17)
FEET = range(17, 23)
FACE = range(23, 91)
LEFT_HAND = range(91, 112)
RIGHT_HAND = range(112, 133)

PARTS = {
    "body": BODY,
    "feet": FEET,
    "face": FACE,
    "left_hand": LEFT_HAND,
    "right_hand": RIGHT_HAND,
}

COCO_BODY_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
FOOT_NAMES = (
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)

# A point is "present" when its score is at or above this (the common tools' rule).
SCORE_THRESHOLD = 0.3

# OpenPose-18 body: OPENPOSE_FROM_COCO[i] is the COCO index of OpenPose point i;
# None marks the neck, which is synthesised from the two shoulders.
OPENPOSE_FROM_COCO = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
NECK = 1
LEFT_SHOULDER_COCO = 5
RIGHT_SHOULDER_COCO = 6
# COCO index -> OpenPose index (inverse of the above, without the neck).
COCO_FROM_OPENPOSE = {coco: op for op, coco in enumerate(OPENPOSE_FROM_COCO) if coco is not None}

# OpenPose BODY_25 index -> COCO-WholeBody index (neck 1 and mid-hip 8 have no COCO point).
# BODY_25: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8 mid-hip, 9-11 right leg,
# 12-14 left leg, 15/16 right/left eye, 17/18 right/left ear, 19-21 left foot, 22-24 right foot.
COCO_FROM_BODY25 = {
    0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 9: 12, 10: 14, 11: 16, 12: 11, 13: 13, 14: 15,
    15: 2, 16: 1, 17: 4, 18: 3, 19: 17, 20: 18, 21: 19, 22: 20, 23: 21, 24: 22,
}

# Body limbs as OpenPose-18 index pairs; limb i is drawn in OPENPOSE_COLORS[i].
OPENPOSE_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
# RGB; joint j uses colour j, limb i uses colour i (at LIMB_SHADE of it).
OPENPOSE_COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
    (85, 255, 0), (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
    (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255), (170, 0, 255),
    (255, 0, 255), (255, 0, 170), (255, 0, 85),
)
LIMB_SHADE = 0.6

# Hands: 21 points (wrist, then 4 per finger thumb -> little); edge i is HSV(i/20, 1, 1).
HAND_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8),
    (0, 9), (9, 10), (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16),
    (0, 17), (17, 18), (18, 19), (19, 20),
)
HAND_EDGE_COLORS = tuple(
    tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(i / len(HAND_EDGES), 1.0, 1.0))
    for i in range(len(HAND_EDGES))
)
HAND_POINT_COLOR = (0, 0, 255)  # RGB pure blue
FACE_POINT_COLOR = (255, 255, 255)

# Feet are not drawn by any common tool; our colours continue each leg's hue
# progression (left leg 9-11 -> deeper blue, right leg 6-8 -> more cyan), so a
# drawn foot reads as the end of its leg. Edges run from the ankle (COCO index).
FOOT_EDGES = (
    (15, 17), (15, 18), (15, 19),  # left ankle -> big toe, small toe, heel
    (16, 20), (16, 21), (16, 22),  # right ankle -> big toe, small toe, heel
)
LEFT_FOOT_COLOR = (0, 42, 255)
RIGHT_FOOT_COLOR = (0, 255, 212)
FOOT_EDGE_COLORS = (LEFT_FOOT_COLOR,) * 3 + (RIGHT_FOOT_COLOR,) * 3

# Face in OpenPose JSON has 70 points: the 68 landmarks then the pupils
# (right eye, left eye) taken from the body's eye keypoints (COCO 2 and 1).
FACE_PUPILS_FROM_COCO = (2, 1)

# Reference scale of the OpenPose drawing widths: what the common
# preprocessors draw at their default 512 px resolution.
REFERENCE_SHORT_SIDE = 512
STICK_WIDTH = 4
JOINT_RADIUS = 4
HAND_LINE_WIDTH = 2
HAND_POINT_RADIUS = 4
FACE_POINT_RADIUS = 3

# The four parts a person's drawing and JSON can switch on and off, in this order
# (the `parts` field of POSE_KEYPOINT lists the enabled ones).
PART_NAMES = ("body", "hands", "face", "feet")
# COCO-WholeBody ranges of each switchable part.
PART_RANGES = {
    "body": BODY,
    "hands": range(LEFT_HAND.start, RIGHT_HAND.stop),
    "face": FACE,
    "feet": FEET,
}

# Toe points (Wan 2.2 Animate, UniAnimate): one per foot, the mean of its big and small toe.
LEFT_TOE_FROM_COCO = (17, 18)
RIGHT_TOE_FROM_COCO = (20, 21)
LEFT_ANKLE_OPENPOSE = 13
RIGHT_ANKLE_OPENPOSE = 10

_OP_INDEX = np.array([0 if c is None else c for c in OPENPOSE_FROM_COCO])


def present_mask(keypoints, scores, threshold: float = SCORE_THRESHOLD) -> np.ndarray:
    """The one "present" rule: score >= threshold and finite coordinates and score.

    Works on one person ((133, 2), (133,)) or any leading shape ((..., 133, 2), (..., 133)).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(kp).all(axis=-1) & np.isfinite(sc) & (sc >= threshold)


def openpose18(keypoints, scores, threshold: float = SCORE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose-18 body of one person: ``(points (18, 2) float64, present (18,) bool)``.

    Point i is COCO point ``OPENPOSE_FROM_COCO[i]``; the neck is the shoulder midpoint and is
    present only when both shoulders are. Absent points are (0, 0).
    """
    points, present, _ = openpose18_scored(keypoints, scores, threshold)
    return points, present


def openpose18_scored(keypoints, scores, threshold: float = SCORE_THRESHOLD
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`openpose18` plus each point's score (the neck: the lower shoulder score)."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(NUM_KEYPOINTS, 2)
    sc = np.asarray(scores, dtype=np.float64).reshape(NUM_KEYPOINTS)
    ok = present_mask(kp, sc, threshold)
    points, present, op_scores = kp[_OP_INDEX].copy(), ok[_OP_INDEX].copy(), sc[_OP_INDEX].copy()
    ls, rs = LEFT_SHOULDER_COCO, RIGHT_SHOULDER_COCO
    present[NECK] = ok[ls] and ok[rs]
    points[NECK] = (kp[ls] + kp[rs]) / 2.0
    op_scores[NECK] = min(sc[ls], sc[rs])
    points[~present] = 0.0
    op_scores[~present] = 0.0
    return points, present, op_scores
