"""``python -m dwpose_core retarget POSE.json --reference REF.json|REF.png --out OUT.json``.

The driving poses of POSE.json (POSE_KEYPOINT / OpenPose JSON) re-proportioned to the reference
character (:func:`dwpose_core.animate.retarget.retarget`): the reference is a POSE_KEYPOINT file (its
first frame) or a picture, run through the estimator (``--det`` / ``--pose`` / ``--backend`` ...
as in the main command). OUT.json is in the reference's canvas; it is written atomically.
``--out`` may be a folder: then ``<folder>/<stem>_retargeted.json``.
Exit codes: 0 done; 1 POSE.json could not be read or retargeted; 2 wrong arguments, an unusable
reference, a model / backend / device problem, OUT.json not writable (or a bug: one line saying
so); 130 interrupted. Messages are one line on stderr (a traceback only with ``--debug``).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from .common import Formatter, EXIT_OK, InputError, Parser, UsageError, add_model_arguments, report, setup_from_args, size_arg
from ..files.images import IMAGE_SUFFIXES

__all__ = ["main", "build_parser"]

PROG = "python -m dwpose_core retarget"


def _people(text: str):
    if text in ("auto", "same"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use auto, same or a reference person index") from None


EPILOG = """\
examples:
  python -m dwpose_core retarget dance.json --reference character.png --out dance_retargeted.json
  python -m dwpose_core retarget dance.json --reference character.json --out out.json --canvas 1280x720

exit codes: 0 done; 1 an input could not be read; 2 wrong arguments, or a model / backend problem;
130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, formatter_class=Formatter, epilog=EPILOG,
                description="Re-proportion a pose clip to a reference character (its bone lengths, ground "
                            "line and place in its picture), keeping the clip's joint angles and motion.")
    p.add_argument("driving", type=Path, metavar="POSE.json", help="driving poses (POSE_KEYPOINT / OpenPose JSON)")
    p.add_argument("--reference", type=Path, required=True, metavar="REF",
                   help="reference: a POSE_KEYPOINT .json (first frame) or a picture")
    p.add_argument("--out", type=Path, required=True, help="output .json (or a folder)")
    p.add_argument("--reference-people", type=_people, default="auto",
                   help="auto: each track its own reference person when there are enough, else the largest; "
                        "same: every track the largest; N: every track reference person N")
    p.add_argument("--quantile", type=float, default=0.9, help="quantile of a bone's length over the clip taken "
                                                               "as its length")
    p.add_argument("--max-ratio-spread", type=float, default=2.5,
                   help="a limb's ratio stays within this factor of the overall scale")
    p.add_argument("--no-ground", action="store_true", help="do not keep the feet on the reference's ground line")
    p.add_argument("--canvas", type=size_arg, default=None, help="canvas WxH for plain OpenPose JSON without one")
    models = p.add_argument_group("models (only for a picture as the reference)")
    add_model_arguments(models)
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: Optional[list] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one line and its exit code
        return report(exc, debug=debug, guidance=False)


def _run(args) -> int:
    from ..formats.pose_json import FormatError, from_pose_keypoint, load_json, save_json, to_pose_keypoint
    from ..animate.retarget import RetargetError, retarget
    from ..files.outputs import OutputError

    if not 0.0 < args.quantile <= 1.0:
        raise UsageError(f"--quantile must be within (0, 1], got {args.quantile}")
    if args.max_ratio_spread < 1.0:
        raise UsageError(f"--max-ratio-spread must be >= 1, got {args.max_ratio_spread}")
    if not args.reference.is_file():
        raise UsageError(f"--reference {args.reference} does not exist")
    out = args.out / f"{args.driving.stem}_retargeted.json" if args.out.is_dir() else args.out
    if not out.parent.is_dir():
        raise UsageError(f"--out: the folder {out.parent} does not exist")
    try:
        frames = from_pose_keypoint(load_json(args.driving, canvas_size=args.canvas))
    except (OSError, ValueError) as exc:  # FormatError is a ValueError
        raise InputError(f"{args.driving}: {exc}") from exc
    reference = _reference(args)
    try:
        result = retarget(frames, reference, reference_people=args.reference_people, quantile=args.quantile,
                          max_ratio_spread=args.max_ratio_spread, ground=not args.no_ground)
    except RetargetError as exc:
        raise UsageError(f"--reference {args.reference}: {exc}") from exc
    except FormatError as exc:  # the driving poses' content (any other ValueError is a bug)
        raise InputError(f"{args.driving}: {exc}") from exc
    try:
        save_json(out, to_pose_keypoint(result))
    except OSError as exc:  # an unwritable output: exit code 2, as in every command line
        raise OutputError(f"could not write {out}: {exc}") from exc
    print(f"{out}: {len(result)} frame(s) in the reference's {reference.width}x{reference.height} canvas",
          file=sys.stderr)
    return EXIT_OK


def _reference(args):
    from ..formats.pose_json import from_pose_keypoint, load_json

    path = args.reference
    if path.suffix.lower() == ".json":
        try:
            frames = from_pose_keypoint(load_json(path, canvas_size=args.canvas))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--reference {path}: {exc}") from exc
        if not frames:
            raise UsageError(f"--reference {path}: no frames")
        return frames[0]
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"--reference {path}: give a .json pose or a picture ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return _estimate(args, path)


def _estimate(args, path: Path):
    from ..estimator_pool import build_estimator
    from ..files.images import read_image

    try:
        image = read_image(path)
    except ValueError as exc:
        raise UsageError(f"--reference {path}: {exc}") from exc
    logging.getLogger("dwpose").setLevel(logging.WARNING)
    estimator = build_estimator(setup_from_args(args))  # a model problem: its own error, exit code 2
    from ..annotate import AnnotateOptions, PoseAnnotator

    try:
        pose = PoseAnnotator(estimator, AnnotateOptions(draw=False))([image]).poses[0]
    finally:
        estimator.release()
    if not pose.people:
        raise UsageError(f"--reference {path}: no person was found in the picture")
    return pose
