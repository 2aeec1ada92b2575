"""Hand refinement pass (off by default): a dedicated hand model on a square crop around each hand.

Whole-body models see a hand as a few dozen pixels of a 384x288 person crop; a hand model
(RTMPose-m hand5: 256x256 input, 21 points in COCO-WholeBody / OpenPose hand order, SimCC
split 2.0, the same ImageNet normalisation) sees it at 256x256. For every kept person and
each hand whose **wrist is found** (body wrist score >= :data:`WRIST_THRESHOLD`):

1. **Hand box** (square, frame pixels):

   * from the hand's own whole-body points when at least :data:`MIN_HAND_POINTS` of its 21
     points (plus the body wrist) score >= :data:`POINT_THRESHOLD`: centre = centre of their
     bounding box, side = its longer side, at least :data:`MIN_SIDE_FOREARM` x the forearm
     length when the elbow is found (a curled fist's points span little) and at least
     :data:`MIN_SIDE_PX`;
   * otherwise **extrapolated from the forearm** (elbow and wrist found): the hand lies beyond
     the wrist along elbow -> wrist; centre = wrist + :data:`LOST_CENTER_FOREARM` x forearm
     vector, side = :data:`LOST_SIDE_FOREARM` x forearm length (an adult hand is about
     0.7-0.8 forearm lengths long: the square holds it with fingers spread either way);
   * with neither, the hand is left as it is.

2. **Crop** as for the body (mmpose's top-down convention, which the hand model was trained
   with): box -> centre and scale = side x 1.25 (aspect 1:1), affine warp of the uint8 RGB
   frame (bilinear, black outside), ImageNet mean/std. All hand crops of a chunk (every
   person, both sides) go to the hand model in one batched call.

3. **Back to the frame** with the body's formula ``p = p_input / 256 * scale + centre -
   scale / 2``; score = min of the two SimCC maxima, as for the body.

4. **Replacement rule** (written once, here): the hand model's 21 points replace the
   whole-body hand (points and scores, all 21 together) when

   ``mean(hand-model scores) >= MIN_REFINED_MEAN`` and
   ``mean(hand-model scores) > mean(whole-body hand scores) + MARGIN``

   i.e. when the hand model is more confident about this hand than the whole-body model.
   Both scores are SimCC maxima of models trained with the same label-softmax KL loss, so
   they are on comparable scales. A hand that is not refined is returned bit for bit as it
   came in (points and scores), and the body wrist is never moved. The sides that were
   refined are reported per person (``refined_hands``: ``"left"`` / ``"right"``), which the
   JSON keeps.

Accuracy on real pictures could not be measured here (the real weights are not reachable
from the build machine); the geometry is proven with an oracle hand model in
tests/stages/test_hands.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import skeleton as sk
from ..backends.base import InferenceModel
from ..hub.errors import ModelKindError
from .pose import WholeBodyPoseModel

HAND_KEYPOINTS = 21
HAND_SIDES = ("left", "right")
# COCO-WholeBody indices per side: (elbow, wrist, first hand point)
_SIDE_INDEX = {"left": (7, 9, sk.LEFT_HAND.start), "right": (8, 10, sk.RIGHT_HAND.start)}

WRIST_THRESHOLD = sk.SCORE_THRESHOLD  # the body wrist must be found (0.3, as drawn)
POINT_THRESHOLD = sk.SCORE_THRESHOLD  # a whole-body hand point counts towards the box
MIN_HAND_POINTS = 3  # fewer found hand points than this: the hand is "lost", box from the forearm
MIN_SIDE_PX = 8.0  # smallest hand box side, frame pixels
MIN_SIDE_FOREARM = 0.5  # hand box side >= this x forearm length (when the elbow is found)
LOST_CENTER_FOREARM = 0.4  # lost hand: centre = wrist + this x (wrist - elbow)
LOST_SIDE_FOREARM = 0.9  # lost hand: side = this x forearm length
MIN_REFINED_MEAN = 0.3  # the hand model's mean score must reach this...
MARGIN = 0.0  # ...and exceed the whole-body hand's mean score by more than this


@dataclass(frozen=True)
class HandBox:
    person: int  # index into the persons given
    side: str  # "left" or "right"
    box: tuple[float, float, float, float]  # square, x1, y1, x2, y2 frame pixels
    source: str  # "points" or "forearm"


def hand_boxes(keypoints: np.ndarray, scores: np.ndarray) -> list[HandBox]:
    """Square hand boxes for every person [N,133,2] / [N,133] and side whose wrist is found."""
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, sk.NUM_KEYPOINTS, 2)
    scores = np.asarray(scores, np.float64).reshape(-1, sk.NUM_KEYPOINTS)
    out: list[HandBox] = []
    for n in range(len(keypoints)):
        kp, sc = keypoints[n], scores[n]
        for side in HAND_SIDES:
            elbow, wrist, first = _SIDE_INDEX[side]
            if not (sc[wrist] >= WRIST_THRESHOLD and np.isfinite(kp[wrist]).all()):
                continue
            forearm = None
            if sc[elbow] >= WRIST_THRESHOLD and np.isfinite(kp[elbow]).all():
                vec = kp[wrist] - kp[elbow]
                if np.hypot(*vec) > 1e-6:
                    forearm = vec
            hand = slice(first, first + HAND_KEYPOINTS)
            found = (sc[hand] >= POINT_THRESHOLD) & np.isfinite(kp[hand]).all(axis=1)
            if found.sum() >= MIN_HAND_POINTS:
                pts = np.concatenate([kp[hand][found], kp[wrist][None]])
                lo, hi = pts.min(axis=0), pts.max(axis=0)
                center = (lo + hi) / 2
                side_len = float(max(hi - lo))
                if forearm is not None:
                    side_len = max(side_len, MIN_SIDE_FOREARM * float(np.hypot(*forearm)))
                source = "points"
            elif forearm is not None:
                center = kp[wrist] + LOST_CENTER_FOREARM * forearm
                side_len = LOST_SIDE_FOREARM * float(np.hypot(*forearm))
                source = "forearm"
            else:
                continue
            half = max(side_len, MIN_SIDE_PX) / 2
            box = (center[0] - half, center[1] - half, center[0] + half, center[1] + half)
            out.append(HandBox(n, side, tuple(float(v) for v in box), source))
    return out


class HandPoseModel(WholeBodyPoseModel):
    """A 21-point SimCC hand model run like the body model (same crop, decoding and batching)."""

    num_keypoints = HAND_KEYPOINTS


def should_replace(hand_scores: np.ndarray, wholebody_scores: np.ndarray) -> bool:
    """The replacement rule (see the module docstring)."""
    refined = float(np.mean(hand_scores))
    before = float(np.mean(np.where(np.isfinite(wholebody_scores), wholebody_scores, 0.0)))
    return refined >= MIN_REFINED_MEAN and refined > before + MARGIN


@dataclass
class RefinedHands:
    keypoints: np.ndarray  # [N,133,2] float32, hands replaced where refined
    scores: np.ndarray  # [N,133] float32
    refined: list[tuple[str, ...]]  # per person: the sides refined, in HAND_SIDES order
    boxes: list[HandBox]  # every hand box that went through the hand model


def refine_hands(hand_model: HandPoseModel, frames: list[np.ndarray], frame_index: np.ndarray,
                 keypoints: np.ndarray, scores: np.ndarray,
                 max_crops_per_call: Optional[int] = None) -> RefinedHands:
    """Run the hand model on every found hand of every person (one batched call per chunk) and
    replace the whole-body hands where the hand model is more confident."""
    keypoints = np.array(keypoints, dtype=np.float32).reshape(-1, sk.NUM_KEYPOINTS, 2)
    scores = np.array(scores, dtype=np.float32).reshape(-1, sk.NUM_KEYPOINTS)
    frame_index = np.asarray(frame_index, dtype=np.int64).reshape(-1)
    boxes = hand_boxes(keypoints, scores)
    refined: list[list[str]] = [[] for _ in range(len(keypoints))]
    if boxes:
        box_array = np.array([b.box for b in boxes], dtype=np.float64)
        hand_kp, hand_sc = hand_model(frames, frame_index[[b.person for b in boxes]], box_array,
                                      max_crops_per_call)
        for b, kp, sc in zip(boxes, hand_kp, hand_sc):
            first = _SIDE_INDEX[b.side][2]
            hand = slice(first, first + HAND_KEYPOINTS)
            if should_replace(sc, scores[b.person, hand]):
                keypoints[b.person, hand] = kp
                scores[b.person, hand] = sc
                refined[b.person].append(b.side)
    order = {s: i for i, s in enumerate(HAND_SIDES)}
    return RefinedHands(keypoints, scores, [tuple(sorted(r, key=order.get)) for r in refined], boxes)


def load_hand_model(model: InferenceModel, chunk_size: Optional[int] = None) -> HandPoseModel:
    """Wrap a loaded backend model; refuses one that is not a 21-point SimCC model."""
    hand = HandPoseModel(model, chunk_size)
    h, w = hand.input_hw
    if h != w:
        raise ModelKindError(f"{model.path.name} is not a hand model: its input is {hand.input_hw[1]}x{hand.input_hw[0]}, "
                         "hand models take a square crop (RTMPose-m hand5: 256x256).")
    return hand
