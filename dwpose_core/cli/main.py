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
import traceback
from typing import Optional

from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    Formatter,
    Parser,
    UsageError,  # noqa: F401 - re-exported: dwpose_core.cli.main.UsageError
    add_job_arguments,
    input_failed,
    job_from_args,
    one_line,
    parse_and_run,
)

log = logging.getLogger("dwpose")

# python -m dwpose_core NAME ... -> module.main(argv)
SUBCOMMANDS = {
    "models": "dwpose_core.cli.models",
    "render": "dwpose_core.cli.render",
    "retarget": "dwpose_core.cli.retarget",
    "batch": "dwpose_core.cli.batch",
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
  DWPOSE_CKPTS_DIR         where models are looked for and downloaded (default: ckpts/ in the pack)
  DWPOSE_CACHE_DIR         where derived files (optimised graphs) are kept
  DWPOSE_DOWNLOAD_TIMEOUT  seconds a download may stall (default 30)
  DWPOSE_MAX_PIXELS        largest image accepted, in pixels (default 100000000; 0 = no limit)
  DWPOSE_VIDEO_ENCODER     pyav, imageio-ffmpeg or mp4v (default: the first installed)
  HF_HUB_OFFLINE=1         never download (same as --offline)
  HF_ENDPOINT              another Hugging Face endpoint or mirror
  HF_TOKEN                 a Hugging Face token, for gated or private model repositories

no network, or no real weights yet? README.md, "Trying it without the real weights".

exit codes:
  0  every input done
  1  some inputs could not be read or processed (the others were written; each is named)
  2  wrong argument, or a model / backend / device problem (one line, nothing processed)
  130  interrupted (Ctrl-C); the inputs already done are kept
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m dwpose_core", formatter_class=Formatter, epilog=EPILOG,
        description="Whole-body poses (body, feet, face, hands: 133 COCO-WholeBody keypoints) for ControlNet "
                    "and pose-driven video models, from images, folders and videos.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or videos")
    add_job_arguments(p)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    return parse_and_run(build_parser(), argv, _run)


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
    except BaseException:  # a model problem or a bug: reported by run_reporting, below the bar
        bar.close()
        raise
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
    """Annotate one input; True when done. Input problems are reported and counted; model problems and
    bugs stop the run (:func:`~dwpose_core.cli.common.input_failed`)."""
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
    except Exception as exc:  # noqa: BLE001 - one bad input never stops the others (a bug does)
        if not input_failed(exc):
            _report_partial(exc, item, tqdm)
            raise
        if args.debug:
            traceback.print_exception(type(exc), exc, exc.__traceback__)
        text = one_line(exc)  # the path once: many messages start with it already
        tqdm.write(f"error: {text if str(item.path) in text else f'{item.path}: {text}'}", file=sys.stderr)
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
