"""Command line: ``python -m dwpose_core INPUT... --out DIR`` and ``python -m dwpose_core models ...``.

For each image: ``DIR/<stem>_pose.png`` and ``DIR/<stem>.json`` (the POSE_KEYPOINT
list for that input). For each video: ``DIR/<stem>.json`` with one entry per
frame and the pose frames as ``DIR/<stem>_pose.mp4``. Exit code 2 with a one-line
instruction when a model file is missing or an argument is wrong.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Iterator, Optional

from .images import IMAGE_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger("dwpose")


class UsageError(Exception):
    """Wrong input the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dwpose_core",
        description="Whole-body poses (body, feet, face, hands) for ControlNet from images, folders and videos. "
                    "Model management: python -m dwpose_core models {list,download,verify}.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or videos")
    p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    p.add_argument("--det", default="yolox_l.onnx", help="detector: registry name, file path, or 'none' (whole frame)")
    p.add_argument("--pose", default="dw-ll_ucoco_384.onnx", help="pose model: registry name or file path (.onnx; .pth with --backend torch)")
    p.add_argument("--resolution", type=int, default=None, help="short side of the pose image (multiple of 8); default: the input's size")
    p.add_argument("--no-body", action="store_true", help="do not draw or export the body")
    p.add_argument("--no-hands", action="store_true", help="do not draw or export the hands")
    p.add_argument("--no-face", action="store_true", help="do not draw or export the face")
    p.add_argument("--feet", action="store_true", help="draw the feet (always kept in the JSON's wholebody field)")
    p.add_argument("--xinsir", action="store_true", help="xinsir SDXL ControlNet line widths")
    p.add_argument("--max-people", type=int, default=None, help="keep at most N people per frame (most confident)")
    p.add_argument("--selection", default="all", choices=["all", "largest", "most_confident", "top_k"])
    p.add_argument("--top-k", type=int, default=1, help="k for --selection top_k")
    p.add_argument("--det-threshold", type=float, default=0.3, help="person score to keep a detection")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"])
    p.add_argument("--device", default=None, help="torch device (cuda, cuda:1, mps, xpu, cpu) or ONNX Runtime provider")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    p.add_argument("--smooth", type=float, default=0.0, help="video: temporal smoothing strength (0 = off)")
    p.add_argument("--det-every", type=int, default=1, help="video: run the detector every N frames, track in between")
    p.add_argument("--track", action="store_true", help="video: keep person identities across frames")
    p.add_argument("--offline", action="store_true", help="never download models")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def iter_inputs(inputs: list[str]) -> Iterator[Path]:
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            if not files:
                raise UsageError(f"{path} contains no images or videos ({', '.join(sorted(IMAGE_SUFFIXES))}).")
            yield from files
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                raise UsageError(f"{path}: unsupported file type {path.suffix!r}; give images or videos.")
            yield path
        else:
            raise UsageError(f"{path} does not exist; give image files, folders or videos.")


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "models":
        from .hub.cli import main as models_main

        return models_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        _check_args(args)
        inputs = list(iter_inputs(args.inputs))
        return _run(args, inputs)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:  # hub.ModelNotFoundError included
        print(f"error: {str(exc).splitlines()[0] if str(exc) else exc}", file=sys.stderr)
        for line in str(exc).splitlines()[1:]:
            print(f"  {line}", file=sys.stderr)
        return 2


def _check_args(args) -> None:
    if args.resolution is not None and args.resolution < 64:
        raise UsageError(f"--resolution must be at least 64, got {args.resolution}.")
    if args.max_people is not None and args.max_people < 0:
        raise UsageError("--max-people must be >= 0.")
    if args.det_every < 1:
        raise UsageError("--det-every must be >= 1.")
    if args.smooth < 0:
        raise UsageError("--smooth must be >= 0.")


def _run(args, inputs: list[Path]) -> int:
    from .backends import BackendError
    from .pipeline import WholeBodyEstimator

    detector = None if args.det.lower() == "none" else args.det
    try:
        estimator = WholeBodyEstimator(detector, args.pose, backend=args.backend, device=args.device,
                                       precision=args.precision, download=not args.offline,
                                       **({"providers": args.device} if args.backend == "onnxruntime" and args.device else {}))
    except BackendError as exc:
        raise UsageError(str(exc)) from exc
    log.info("DWPose: detector %s, pose %s", estimator.info["detector"] or "none (whole frame)", estimator.info["pose"])
    args.out.mkdir(parents=True, exist_ok=True)
    images = [p for p in inputs if p.suffix.lower() in IMAGE_SUFFIXES]
    videos = [p for p in inputs if p.suffix.lower() in VIDEO_SUFFIXES]
    if images:
        _run_images(args, estimator, images)
    for video in videos:
        _run_video(args, estimator, video)
    return 0


def _parts(args) -> dict:
    return dict(body=not args.no_body, hands=not args.no_hands, face=not args.no_face)


def _call_options(args) -> dict:
    return dict(det_threshold=args.det_threshold, max_people=args.max_people, selection=args.selection,
                top_k=args.top_k)


def _run_images(args, estimator, images: list[Path]) -> None:
    from tqdm import tqdm

    from .formats import save_json, to_pose_keypoint
    from .images import read_image, write_image
    from .render import draw_pose

    for path in tqdm(images, desc="images", unit="img", disable=args.quiet or len(images) < 2):
        try:
            frame = read_image(path)
        except ValueError as exc:
            log.warning("skipped %s: %s", path, exc)
            continue
        pose = estimator([frame], **_call_options(args))[0]
        save_json(args.out / f"{path.stem}.json", to_pose_keypoint([pose], **_parts(args)))
        canvas = draw_pose(pose, resolution=args.resolution, feet=args.feet, xinsir=args.xinsir, **_parts(args))
        write_image(args.out / f"{path.stem}_pose.png", canvas)


def _run_video(args, estimator, path: Path, chunk: int = 32) -> None:
    import cv2
    from tqdm import tqdm

    from .formats import save_json, to_pose_keypoint
    from .pipeline import VideoState
    from .render import draw_pose

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        log.warning("skipped %s: OpenCV cannot open this video", path)
        return
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    state, writer, entries = VideoState(), None, []
    bar = tqdm(total=total, desc=path.name, unit="frame", disable=args.quiet)
    try:
        while True:
            frames = _read_frames(capture, chunk)
            if not frames:
                break
            poses = estimator(frames, **_call_options(args), track=args.track or args.smooth > 0,
                              det_every=args.det_every, smoothing=args.smooth, video_state=state)
            entries += to_pose_keypoint(poses, **_parts(args))
            for pose in poses:
                canvas = draw_pose(pose, resolution=args.resolution, feet=args.feet, xinsir=args.xinsir, **_parts(args))
                if writer is None:
                    writer = cv2.VideoWriter(str(args.out / f"{path.stem}_pose.mp4"),
                                             cv2.VideoWriter_fourcc(*"mp4v"), fps, (canvas.shape[1], canvas.shape[0]))
                writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
            bar.update(len(frames))
    finally:
        bar.close()
        capture.release()
        if writer is not None:
            writer.release()
    save_json(args.out / f"{path.stem}.json", entries)


def _read_frames(capture, count: int) -> list:
    import cv2

    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return frames
