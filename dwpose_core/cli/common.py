"""What the command lines share: parser pieces, the usage error, exit codes and the one error report.

- :class:`Parser` (argument errors raised as :class:`~dwpose_core.errors.UsageError`) and
  :class:`Formatter` (description and epilog as written, defaults shown);
- flags: :func:`size_arg` (``WxH``), :func:`add_model_arguments` / :func:`setup_from_args`,
  :func:`add_job_arguments` / :func:`job_from_args`, :func:`add_quiet_debug_arguments`;
- errors: :func:`report` turns any exception that ends a command into its message and exit code
  (:func:`~dwpose_core.errors.exit_code_for`); an unexpected one (a bug) is one line saying so;
  :func:`input_failed` tells an input's own failure (reported, counted, the run goes on) from a bug;
  :func:`run_reporting` runs a command body under :func:`report`.
"""
from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from ..backends.base import PRECISIONS
from ..errors import (  # noqa: F401 - the command lines' vocabulary, imported from here
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    DWPoseError,
    InputError,
    UsageError,
    exit_code_for,
    is_bug,
    one_line,
)

log = logging.getLogger("dwpose")


# ------------------------------------------------------------------------------------- parsers

class Parser(argparse.ArgumentParser):
    """An argument error is raised as :class:`UsageError` (one line, exit code 2, see :func:`report`)
    instead of argparse's usage block and ``SystemExit``."""

    def error(self, message: str):
        hint = f" (see `{self.prog} --help`)"
        raise UsageError(message if message.endswith(hint) else message + hint)


class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown, except where there is none to show (None, a flag's False) or the help already
    says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


def size_arg(text: str) -> tuple[int, int]:
    """argparse type for ``WIDTHxHEIGHT``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive")
    return w, h


def _profiles() -> list[str]:
    try:
        from ..render.profiles import PROFILES
    except ImportError:
        return ["controlnet"]
    return list(PROFILES)


class NotGiven(str):
    """A flag's default, told apart from the same value typed by the user (a preset yields to typed values)."""


def add_model_arguments(m) -> None:
    """Which models run where (the main command, ``batch``, ``retarget``); read by :func:`setup_from_args`."""
    from ..estimator_pool import DEFAULT_DETECTOR, DEFAULT_POSE
    from ..hub.registry import DEFAULT_HAND

    from ..hub import presets

    m.add_argument("--preset", default=presets.CUSTOM, type=str.lower, choices=list(presets.NAMES),
                   help="a whole configuration: " + "; ".join(f"{p.name}: {p.summary}" for p in presets.PRESETS.values())
                   + "; custom (default): --det/--det-size/--pose as given. --det, --det-size or --pose given as well win")
    m.add_argument("--det", default=NotGiven(DEFAULT_DETECTOR), help="detector: registry name, file path, or 'none' (whole frame)")
    m.add_argument("--pose", default=NotGiven(DEFAULT_POSE), help="pose model: registry name or file path (.onnx, or .pth with the torch backend)")
    m.add_argument("--det-size", type=int, default=None, metavar="N", help="detector input size (multiple of 32, 320-1280; default: the model's own, 640 for yolox_l); smaller is faster, finds fewer small people")
    m.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"],
                   help="what runs the models: torch (GPU, .pth or .onnx), onnxruntime (.onnx), or auto "
                        "(torch on a GPU when it is installed, else ONNX Runtime)")
    m.add_argument("--device", default=None, help="torch device (cuda, cuda:1, mps, xpu, cpu) or ONNX Runtime provider; default: the best available")
    m.add_argument("--precision", default="fp32", choices=list(PRECISIONS), help="torch backend weights")
    m.add_argument("--offline", action="store_true", help="never download models")
    m.add_argument("--refine-hands", nargs="?", const=DEFAULT_HAND, default=None, metavar="MODEL",
                   help="re-estimate every found hand with a hand model on its own crop, kept where that model is "
                        f"more confident (no value: {DEFAULT_HAND}; default: off)")


def setup_from_args(args):
    """The ModelSetup of :func:`add_model_arguments`' flags; UsageError for a wrong value."""
    from ..estimator_pool import ModelSetup

    if args.det_size is not None and (args.det_size % 32 or not 320 <= args.det_size <= 1280):
        raise UsageError(f"--det-size must be a multiple of 32 from 320 to 1280, got {args.det_size}.")
    if args.backend == "onnxruntime" and args.precision != "fp32":
        raise UsageError(f"--precision {args.precision} is for the torch backend; ONNX Runtime runs the .onnx file as "
                         f"it is: leave --precision out, or give --backend torch")
    from ..hub import presets

    given = lambda value: None if isinstance(value, NotGiven) else value  # noqa: E731
    chosen = presets.apply(getattr(args, "preset", None), detector=given(args.det), det_size=args.det_size,
                           pose=given(args.pose))
    detector = None if chosen["detector"].lower() == "none" else chosen["detector"]
    return ModelSetup(detector, chosen["pose"], backend=args.backend, device=args.device, precision=args.precision,
                      providers=args.device if args.backend == "onnxruntime" and args.device else "auto",
                      det_size=chosen["det_size"], download=not args.offline, device_option="--device",
                      refine_hands=getattr(args, "refine_hands", None))


def add_quiet_debug_arguments(p: argparse.ArgumentParser) -> None:
    """``-q`` and ``--debug`` (read by :func:`run_reporting`)."""
    p.add_argument("-q", "--quiet", action="store_true", help="errors only: no progress bars, warnings or file list")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


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
    add_quiet_debug_arguments(p)


def job_from_args(args):
    """(ModelSetup, AnnotateOptions) from parsed flags; UsageError for a wrong value."""
    from ..annotate import AnnotateOptions, Parts

    setup = setup_from_args(args)
    if args.max_people is not None and args.max_people < 1:
        raise UsageError(f"--max-people must be at least 1 (0 would keep nobody), got {args.max_people}.")
    if args.resolution is not None and args.resolution < 64:
        raise UsageError(f"--resolution must be at least 64, got {args.resolution}.")
    try:
        options = AnnotateOptions(
            parts=Parts(body=not args.no_body, hands=not args.no_hands, face=not args.no_face, feet=args.feet),
            selection=args.selection, top_k=args.top_k, max_people=args.max_people,
            det_threshold=args.det_threshold, max_detections=args.max_detections, tracking=args.track,
            smoothing=args.smooth, det_every=args.det_every, draw=not args.no_pictures,
            resolution=args.resolution, xinsir=args.xinsir, profile=args.profile, face_crops=args.face_crops)
    except ValueError as exc:  # AnnotateOptions checks its values: each message names the option
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


# ------------------------------------------------------------------------------------- errors

def configure_logging(quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.INFO
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(message)s")
    log.setLevel(level)


def bug_line(exc: BaseException) -> str:
    """The one line of an unexpected error."""
    return f"unexpected error (a bug): {one_line(exc, with_type=True)}; rerun with --debug for the traceback"


def input_failed(exc: BaseException) -> bool:
    """True when ``exc`` is one input's own failure: the command reports it, counts it and goes on.
    False for a bug (and an interrupt): it ends the command (:func:`report`).

    One input's failure: any :class:`DWPoseError` (its content, its outputs), an ``OSError`` the
    system raised, and what the libraries raise on data they cannot handle: a ``ValueError`` (the
    image and video readers), a ``RuntimeError`` (the inference runtimes: out of memory, an operator
    failing on this input), a ``MemoryError``, OpenCV's ``cv2.error``."""
    if isinstance(exc, KeyboardInterrupt):
        return False
    if not is_bug(exc) or isinstance(exc, (ValueError, MemoryError)):
        return True
    if isinstance(exc, RuntimeError):
        return not isinstance(exc, (NotImplementedError, RecursionError))
    return type(exc).__module__.partition(".")[0] == "cv2"


def report(exc: BaseException, *, debug: bool = False, prefix: str = "error: ", interrupted: str = "interrupted",
           guidance: bool = True) -> int:
    """Say on stderr why a command ended with ``exc`` and return its exit code (the one handler of every
    command line): an interrupt is ``interrupted``; a :class:`DWPoseError` (or an ``OSError`` the system
    raised) is ``prefix`` + its message's first line, its further lines indented below it (``guidance``);
    anything else is a bug: one line saying so. ``debug``: the traceback first."""
    if isinstance(exc, KeyboardInterrupt):
        print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    if debug and not isinstance(exc, UsageError):  # an argument error has no traceback worth showing
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    if is_bug(exc):
        print(bug_line(exc), file=sys.stderr)
        return EXIT_BUG
    print_error(exc, prefix, guidance)
    return exit_code_for(exc)


def print_error(exc: BaseException, prefix: str = "error: ", guidance: bool = True) -> None:
    """``prefix`` + the message's first line on stderr, its further lines (what to do) indented below."""
    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    print(f"{prefix}{lines[0]}", file=sys.stderr)
    for line in lines[1:] if guidance else ():
        print(f"  {line}", file=sys.stderr)


def parse_and_run(parser, argv, run) -> int:
    """Parse ``argv`` (a wrong argument: one line and "see --help", exit 2), then :func:`run_reporting`."""
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return report(exc)
    return run_reporting(run, args)


def run_reporting(run, args, interrupted: str = "interrupted before any input was done") -> int:
    """``run(args)`` with the command line's contract: logging by ``args.quiet``, every failure one
    ``error:`` line with its exit code (a traceback only with ``args.debug``), Ctrl-C exit 130."""
    configure_logging(args.quiet)
    try:
        return run(args)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - every failure is one line
        return report(exc, debug=args.debug, interrupted=interrupted)
