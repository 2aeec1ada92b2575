"""``python -m dwpose_core render POSE.json ... --out DIR``: POSE_KEYPOINT files -> pose pictures.

One PNG per frame, ``<name>_pose_<frame>.png`` (frame numbers zero-padded to 5 digits), or one
``<name>_pose.mp4`` per input with ``--video`` (drawn and encoded one frame at a time), named as the
main command names its outputs (:func:`output_bases`: inputs that would share a name keep their
extension, then ``-2``, ...), so a source video or frame beside the JSON is never written over, nor
one of the inputs. Every file is written under a temporary name in its folder and then renamed, so
no half-written picture is ever left under its final name.
Exit codes: 0 every input done; 1 some inputs could not be read or written (the others were);
2 wrong arguments (or a bug: one line saying so); 130 interrupted. Messages are one line on stderr
(a traceback only with ``--debug``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

from .common import Formatter, EXIT_OK, EXIT_SOME_FAILED, Parser, UsageError, input_failed, report, size_arg
from ..render.profiles import DEFAULT_PROFILE, PROFILES

__all__ = ["main", "build_parser"]

PROG = "python -m dwpose_core render"


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Draw POSE_KEYPOINT / OpenPose JSON files as pose pictures.",
                formatter_class=Formatter,
                epilog="examples:\n  python -m dwpose_core render poses/clip.json --out pictures/          "
                       "# clip_pose_00000.png, ...\n  python -m dwpose_core render poses/*.json --out videos/ --video "
                       "--profile wan_animate\n\nexit codes: 0 all inputs done; 1 some inputs failed; 2 wrong "
                       "arguments or an unwritable --out; 130 interrupted.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="POSE.json", help="POSE_KEYPOINT / OpenPose JSON files")
    p.add_argument("--out", type=Path, required=True, help="output folder (created when missing)")
    p.add_argument("--profile", choices=PROFILES, default=DEFAULT_PROFILE, help="how to draw (the model to feed)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=size_arg, help="output size WxH (default: the canvas size in the JSON)")
    size.add_argument("--resolution", type=_positive(int), help="output short side, rounded to a multiple of 8")
    p.add_argument("--no-body", action="store_true", help="leave the body out")
    p.add_argument("--no-hands", action="store_true", help="leave the hands out")
    p.add_argument("--no-face", action="store_true", help="leave the face out")
    feet = p.add_mutually_exclusive_group()
    feet.add_argument("--feet", action="store_true", help="draw the feet (controlnet: off by default)")
    feet.add_argument("--no-feet", action="store_true", help="leave the feet out (e.g. wan_animate's toe points)")
    p.add_argument("--xinsir", action="store_true", help="xinsir SDXL stick widths (controlnet profile)")
    p.add_argument("--threshold", type=float, default=None, help="score threshold (default: the profile's)")
    p.add_argument("--canvas", type=size_arg, default=None, help="canvas WxH for plain OpenPose JSON without one")
    p.add_argument("--video", action="store_true", help="write <name>_pose.mp4 instead of one PNG per frame (<name>_pose_00000.png, ...)")
    p.add_argument("--fps", type=_positive(float), default=24.0, help="frames per second of --video")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _write_png(path: Path, rgb) -> None:
    from ..files.outputs import write_image

    write_image(path, rgb)


def _write_video(path: Path, pictures: Iterable, fps: float) -> None:
    """``pictures`` one at a time (a generator: memory stays flat whatever the clip's length)."""
    from ..files.outputs import VideoFileWriter

    writer = VideoFileWriter(path, fps)
    try:
        for rgb in pictures:
            writer.write(rgb)
    except BaseException:
        writer.discard()
        raise
    writer.close()


def output_bases(paths: Sequence[Path]) -> list[Path]:
    """Each input's output name without suffix, as the main command names its outputs: the stem, or,
    for inputs that would share it (``a/x.json``, ``b/x.json``), the stem with the extension and
    ``-2``, ``-3``, ... in the order given (:func:`~dwpose_core.files.inputs.assign_output_names`)."""
    from ..files.inputs import InputFile, assign_output_names

    items = [InputFile(Path(p), "pose", Path(Path(p).stem)) for p in paths]
    assign_output_names(items)
    return [item.base for item in items]


def _check_target(target: Path, inputs: Sequence[Path]) -> Path:
    """Never write over one of the run's own inputs (a JSON named like an output)."""
    for source in inputs:
        try:
            if target.exists() and os.path.samefile(target, source):
                raise UsageError(f"{target} is one of the inputs; give another --out")
        except OSError:
            continue
    return target


def _render_one(path: Path, args, base: Optional[Path] = None) -> list[Path]:
    from ..formats.pose_json import from_pose_keypoint
    from ..render.draw import draw_pose, output_size

    frames = from_pose_keypoint(path.read_bytes(), canvas_size=args.canvas)
    if not frames:
        raise ValueError("holds no frames")
    # One size for all frames of an input (a video has one size): the first frame's.
    size = args.size or output_size(frames[0].width, frames[0].height, args.resolution)
    options = dict(size=size, profile=args.profile, body=not args.no_body, hands=not args.no_hands,
                   face=not args.no_face, feet=True if args.feet else False if args.no_feet else None,
                   xinsir=args.xinsir, threshold=args.threshold)
    base = args.out / (base or Path(path.stem))
    if args.video:  # <name>_pose.mp4, as the main command names a video's pose picture
        target = _check_target(base.with_name(f"{base.name}_pose.mp4"), args.inputs)
        _write_video(target, (draw_pose(f, **options) for f in frames), args.fps)
        return [target]
    written = []
    for i, frame in enumerate(frames):
        target = _check_target(base.with_name(f"{base.name}_pose_{i:05d}.png"), args.inputs)
        _write_png(target, draw_pose(frame, **options))
        written.append(target)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``render`` command with ``argv`` (the arguments after ``render``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one line and its exit code
        return report(exc, debug=debug, prefix=f"{PROG}: error: ", interrupted=f"{PROG}: interrupted")


def _run(args) -> int:
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        if not os.access(args.out, os.W_OK):
            raise PermissionError(f"{args.out} is not writable")
    except OSError as exc:
        raise UsageError(f"cannot write to --out {args.out}: {exc.strerror or exc}") from exc
    failed = 0
    for path, base in zip(args.inputs, output_bases(args.inputs)):
        try:
            if not path.is_file():
                raise FileNotFoundError(f"{path} is not a file")
            written = _render_one(path, args, base)
            print(f"{path}: wrote {len(written)} file{'s' if len(written) != 1 else ''} to {args.out}")
        except Exception as exc:  # noqa: BLE001 - one bad input never stops the others (a bug does)
            if not input_failed(exc):
                raise
            if args.debug:
                import traceback

                traceback.print_exc()
            failed += 1
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            print(f"{PROG}: {' '.join(message.split())}", file=sys.stderr)
    if failed:
        print(f"{PROG}: {failed} of {len(args.inputs)} inputs failed", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
