"""Command line: ``python -m dwpose_core INPUT... --out DIR`` and its sub-commands.

An adapter over the one job (:mod:`dwpose_core.annotate`): it turns the flags into a
:class:`~dwpose_core.estimator_pool.ModelSetup` and :class:`~dwpose_core.annotate.AnnotateOptions`,
checks every input and the output folder before any model loads, runs the job per file
(:mod:`dwpose_core.file_annotation`) and says what it wrote. Exit codes: see ``EPILOG``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path
from typing import Optional

from ..backends.base import PRECISIONS

log = logging.getLogger("dwpose")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# python -m dwpose_core NAME ... -> module.main(argv)
SUBCOMMANDS = {
    "models": "dwpose_core.cli.models",
    "render": "dwpose_core.cli.render",
    "retarget": "dwpose_core.cli.retarget",
    "batch": "dwpose_core.batch.run",
}

EPILOG = """\
examples:
  python -m dwpose_core photo.jpg --out out/                  # out/photo.json + out/photo_pose.png
  python -m dwpose_core shots/ clip.mp4 --out out/ --feet     # a folder (recursively) and a video
  python -m dwpose_core dance.mp4 --out out/ --smooth --selection largest --det-every 4

other commands:
  python -m dwpose_core models {list,download,verify}   model files
  python -m dwpose_core render POSE.json --out DIR      pictures from POSE_KEYPOINT JSON
  python -m dwpose_core retarget POSE.json --reference REF.png --out OUT.json
  python -m dwpose_core batch INPUTS... --out DIR        resumable dataset runs (local or --ray)

outputs: DIR/<name>.json (POSE_KEYPOINT) and DIR/<name>_pose.png (or _pose.mp4 for a video); a
folder's sub-folders are kept under DIR; inputs that would share a name keep their extension
(a.png.json, a.jpg.json). An interrupted video keeps its frames in <name>.incomplete.json.

environment:
  DWPOSE_CKPTS_DIR   where models are looked for and downloaded (default: ckpts/ in the pack)
  HF_HUB_OFFLINE=1   never download (same as --offline)
  HF_ENDPOINT        another Hugging Face endpoint or mirror

exit codes:
  0  every input done
  1  some inputs could not be read or processed (the others were written; each is named)
  2  wrong argument, or a model / backend / device problem (one line, nothing processed)
  130  interrupted (Ctrl-C); the inputs already done are kept
"""


class UsageError(Exception):
    """Wrong input the user can fix; printed as one line, exit code 2."""


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _profiles() -> list[str]:
    try:
        from ..render.profiles import PROFILES
    except ImportError:
        return ["controlnet"]
    return list(PROFILES)


def add_model_arguments(m) -> None:
    """Which models run where (the main command, ``batch``, ``retarget``); read by :func:`setup_from_args`."""
    from ..estimator_pool import DEFAULT_DETECTOR, DEFAULT_POSE

    m.add_argument("--det", default=DEFAULT_DETECTOR, help="detector: registry name, file path, or 'none' (whole frame)")
    m.add_argument("--pose", default=DEFAULT_POSE, help="pose model: registry name or file path (.onnx, or .pth with the torch backend)")
    m.add_argument("--det-size", type=int, default=None, metavar="N", help="detector input size (multiple of 32, 320-1280; default: the model's own, 640 for yolox_l); smaller is faster, finds fewer small people")
    m.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"])
    m.add_argument("--device", default=None, help="torch device (cuda, cuda:1, mps, xpu, cpu) or ONNX Runtime provider; default: the best available")
    m.add_argument("--precision", default="fp32", choices=list(PRECISIONS), help="torch backend weights")
    m.add_argument("--offline", action="store_true", help="never download models")


def setup_from_args(args):
    """The ModelSetup of :func:`add_model_arguments`' flags; UsageError for a wrong value."""
    from ..estimator_pool import ModelSetup

    if args.det_size is not None and (args.det_size % 32 or not 320 <= args.det_size <= 1280):
        raise UsageError(f"--det-size must be a multiple of 32 from 320 to 1280, got {args.det_size}.")
    detector = None if args.det.lower() == "none" else args.det
    return ModelSetup(detector, args.pose, backend=args.backend, device=args.device, precision=args.precision,
                      providers=args.device if args.backend == "onnxruntime" and args.device else "auto",
                      det_size=args.det_size, download=not args.offline, device_option="--device")


def size_arg(text: str) -> tuple[int, int]:
    """argparse type for ``WIDTHxHEIGHT``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive")
    return w, h


def add_job_arguments(p: argparse.ArgumentParser) -> None:
    """The job's flags (shared by the main command and ``batch``)."""
    from ..selection.modes import SELECTION_MODES

    p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    add_model_arguments(p.add_argument_group("models"))
    w = p.add_argument_group("what to keep")
    w.add_argument("--no-body", action="store_true", help="leave the body out of the JSON and the picture")
    w.add_argument("--no-hands", action="store_true", help="leave the hands out")
    w.add_argument("--no-face", action="store_true", help="leave the face out")
    w.add_argument("--feet", action="store_true", help="keep the feet (JSON and picture)")
    w.add_argument("--selection", default="all", choices=list(SELECTION_MODES), help="which people to keep")
    w.add_argument("--top-k", type=int, default=1, help="k for --selection top_k")
    w.add_argument("--max-people", type=int, default=None, help="keep at most N people per frame (most confident)")
    w.add_argument("--det-threshold", type=float, default=0.3, help="person score to keep a detection")
    w.add_argument("--max-detections", type=int, default=100, help="at most N people per frame go to the pose stage")
    d = p.add_argument_group("pictures")
    d.add_argument("--profile", default="controlnet", choices=_profiles(), help="how the pose picture is drawn (the model it feeds)")
    d.add_argument("--resolution", type=int, default=None, help="short side of the pose picture in px (multiple of 8); default: the input's size")
    d.add_argument("--xinsir", action="store_true", help="xinsir SDXL ControlNet line widths")
    d.add_argument("--no-pictures", action="store_true", help="write the JSON only")
    d.add_argument("--face-crops", type=int, nargs="?", const=512, default=None, metavar="SIZE", help="also write square face crops (<name>_face.png/.mp4) of SIZE px (default 512)")
    v = p.add_argument_group("video")
    v.add_argument("--track", action="store_true", help="keep person identities across frames (track_id)")
    v.add_argument("--smooth", type=float, nargs="?", const=1.0, default=0.0, metavar="S", help="temporal smoothing strength (no value: 1.0; 0 = off); turns tracking on")
    v.add_argument("--det-every", type=int, default=1, metavar="N", help="run the detector every N frames, follow the keypoints in between")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only: no progress bars, warnings or file list")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dwpose_core", formatter_class=_Formatter, epilog=EPILOG,
        description="Whole-body poses (body, feet, face, hands: 133 COCO-WholeBody keypoints) for ControlNet "
                    "and pose-driven video models, from images, folders and videos.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or videos")
    add_job_arguments(p)
    return p


def job_from_args(args):
    """(ModelSetup, AnnotateOptions) from parsed flags; UsageError for a wrong value."""
    from ..annotate import AnnotateOptions, Parts

    setup = setup_from_args(args)
    if args.resolution is not None and args.resolution < 64:
        raise UsageError(f"--resolution must be at least 64, got {args.resolution}.")
    try:
        options = AnnotateOptions(
            parts=Parts(body=not args.no_body, hands=not args.no_hands, face=not args.no_face, feet=args.feet),
            selection=args.selection, top_k=args.top_k, max_people=args.max_people,
            det_threshold=args.det_threshold, max_detections=args.max_detections, tracking=args.track,
            smoothing=args.smooth, det_every=args.det_every, draw=not args.no_pictures,
            resolution=args.resolution, xinsir=args.xinsir, profile=args.profile, face_crops=args.face_crops)
    except ValueError as exc:
        raise UsageError(_flag_message(str(exc))) from exc
    return setup, options


def _flag_message(message: str) -> str:
    """'det_every must be ...' -> '--det-every must be ...' (the names the user typed)."""
    names = {"smoothing": "--smooth", "tracking": "--track", "face crop size": "--face-crops",
             "det_every": "--det-every", "max_people": "--max-people", "top_k": "--top-k",
             "det_threshold": "--det-threshold", "max_detections": "--max-detections",
             "resolution": "--resolution", "selection": "--selection", "profile": "--profile"}
    for name, flag in names.items():
        if message.startswith(name + " "):
            return flag + message[len(name):] + "."
    return message


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    return run_reporting(_run, args)


def run_reporting(run, args) -> int:
    """``run(args)`` with the command line's contract: logging by ``args.quiet``, every failure one
    ``error:`` line with its exit code (a traceback only with ``args.debug``), Ctrl-C exit 130."""
    configure_logging(args.quiet)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted before any input was done", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every failure is one line; --debug shows the traceback
        if args.debug:
            raise
        code, lines = classify(exc)
        print(f"error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line}", file=sys.stderr)
        return code


def configure_logging(quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.INFO
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(message)s")
    log.setLevel(level)


def classify(exc: BaseException) -> tuple[int, list[str]]:
    """(exit code, message lines) of an error that stops the whole run."""
    from ..files.outputs import OutputError

    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    if isinstance(exc, (UsageError, OutputError)) or _is_model_problem(exc):
        return EXIT_USAGE, lines
    return EXIT_USAGE, [f"{type(exc).__name__}: {lines[0]}", *lines[1:],
                        "(unexpected: run again with --debug for the traceback)"]


def _is_model_problem(exc: BaseException) -> bool:
    from ..backends import BackendError
    from ..hub.errors import HubError

    return isinstance(exc, (BackendError, HubError, FileNotFoundError, ValueError))


def _run(args) -> int:
    from tqdm import tqdm

    from ..files.inputs import collect_inputs
    from ..files.outputs import probe_writable

    setup, options = job_from_args(args)
    inputs, rejected = collect_inputs(args.inputs, args.out)
    total = len(inputs) + len(rejected)
    for bad in rejected:
        print(f"skipped {bad}", file=sys.stderr)
    if not inputs:
        print(f"no input could be read ({len(rejected)} skipped); nothing was done", file=sys.stderr)
        return EXIT_SOME_FAILED
    probe_writable(args.out)
    annotator = _annotator(setup, options, args.quiet)
    failed, done = len(rejected), 0
    bar = tqdm(total=len(inputs), desc="inputs", unit="file", disable=args.quiet or len(inputs) < 2)
    started = time.perf_counter()
    try:
        for item in inputs:
            ok = _one(annotator, item, args, bar)
            done += ok
            failed += not ok
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted: {done} of {total} inputs done", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    if failed:
        print(f"{failed} of {total} inputs failed (named above); {done} done in {args.out}", file=sys.stderr)
        return EXIT_SOME_FAILED
    if not args.quiet:
        print(f"done: {done} input(s) in {time.perf_counter() - started:.1f} s, written to {args.out}")
    return EXIT_OK


def _annotator(setup, options, quiet: bool):
    from ..annotate import PoseAnnotator

    annotator = PoseAnnotator.from_setup(setup, options)
    info = annotator.estimator.info
    log.info("DWPose: detector %s, pose %s", info["detector"] or "none (whole frame)", info["pose"])
    return annotator


def _one(annotator, item, args, bar) -> bool:
    """Annotate one input; True when done. Input problems are reported and counted; model problems stop."""
    from tqdm import tqdm

    from ..backends import BackendError
    from ..file_annotation import annotate_file

    frames_bar = None
    if item.kind == "video" and not args.quiet:
        frames_bar = tqdm(desc=item.path.name, unit="frame", leave=False)
    try:
        result = annotate_file(annotator, item.path, item.kind, args.out, item.base,
                               progress=frames_bar.update if frames_bar is not None else None)
    except BackendError:
        raise
    except KeyboardInterrupt as exc:
        _report_partial(exc, item, tqdm)
        raise
    except Exception as exc:  # noqa: BLE001 - one bad input never stops the others
        if args.debug:
            raise
        tqdm.write(f"error: {item.path}: {one_line(exc)}", file=sys.stderr)
        _report_partial(exc, item, tqdm)
        return False
    finally:
        if frames_bar is not None:
            frames_bar.close()
    if not args.quiet:
        tqdm.write(f"{item.path} -> {', '.join(str(p) for p in result.written)}")
    return True


def _report_partial(exc: BaseException, item, tqdm) -> None:
    from ..file_annotation import partial_result

    kept, frames = partial_result(exc)
    if kept is not None:
        tqdm.write(f"  kept the {frames} frame(s) done of {item.path} in {kept}", file=sys.stderr)


def one_line(exc: BaseException, with_type: bool = False) -> str:
    """An error as one line: its message, with its type when asked (records) or when the message alone
    says little (KeyError, TypeError, ...)."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    if with_type or isinstance(exc, (KeyError, TypeError, AttributeError, IndexError)):
        return f"{type(exc).__name__}: {text}"
    return text
