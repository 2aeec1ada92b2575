"""Person detectors and presets on this machine: one script, the tables in the README ("Detectors and presets").

    python benchmarks/detectors.py [--repeats 5] [--images 8] [--skip-presets | --skip-detectors]
                                   [--only yolox_tiny,yolox_l]

Per detector: GFLOPs counted from our module (multiply-add = 2, the YOLOX README's convention; the
published figure beside it), CPU milliseconds per 512x768 frame through the detection stage on ONNX
Runtime (letterbox, network, decoding/NMS: median of ``--repeats``), published COCO AP and the weights'
licence. Per preset: whole processes (imports, loading both models, the detector on every image and one
pose crop per image) in images per second.

Models are architecture-faithful random-weight files (tools/make_test_models.py) written to
benchmarks/models/ on first use: every YOLOX size at its published input size, and the end-to-end
(decode + NMS inside) versions of YOLOX-M and YOLOX-Tiny standing for the HumanArt files. The random
detectors are "quiet" (they find nobody), so NMS gets no candidates - as on a frame with few people.
What this cannot measure: how many people a smaller detector misses (needs the real weights and
labelled footage), RTMDet-m and YOLO-NAS (no architecture here: their rows say so).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRAME_HW = (768, 512)
# name -> (test model stem, input size, published COCO AP (80 classes; HumanArt rows: person AP on COCO val),
#          published GFLOPs, licence)
DETECTORS = {
    "yolox_nano": ("yolox_nano", 416, 25.8, 1.08, "Apache-2.0"),
    "yolox_tiny": ("yolox_tiny", 416, 32.8, 6.45, "Apache-2.0"),
    "yolox_s": ("yolox_s", 640, 40.5, 26.8, "Apache-2.0"),
    "yolox_m": ("yolox_m", 640, 46.9, 73.8, "Apache-2.0"),
    "yolox_l": ("yolox_l", 640, 49.7, 155.6, "Apache-2.0"),
    "yolox_x": ("yolox_x", 640, 51.1, 281.9, "Apache-2.0"),
    "yolox_tiny_humanart": ("yolox_tiny_humanart", 416, None, 6.45, "HumanArt data: non-commercial"),
    "yolox_m_humanart": ("yolox_m_humanart", 640, None, 73.8, "HumanArt data: non-commercial"),
}
NOT_MEASURED = {
    "rtmdet_m_person": "no architecture-faithful model here (RTMDet is not implemented in this pack)",
    "yolo_nas_{s,m,l}_fp16": "no architecture-faithful model here; non-commercial weights, only reused",
}
POSE_STEMS = {"dw-ll_ucoco_384.onnx": "dw-ll_ucoco_384", "dw-ll_ucoco.onnx": "dw-ll_ucoco",
              "rtmw-l_384x288.onnx": "rtmw-l_384x288"}


def ensure(stem: str, models: Path) -> Path:
    """The quiet random-weight test file for ``stem`` (written once)."""
    from tools import make_test_models as mtm

    path = models / f"{stem}.onnx"
    if path.is_file():
        return path
    print(f"writing {path} ...", file=sys.stderr, flush=True)
    if stem in mtm.END2END:
        base = mtm.END2END[stem]
        raw = mtm.make(base, models / f".{stem}_raw", ("onnx",), quiet_detector=True)["onnx"]
        import onnx

        onnx.save(mtm.append_end2end(onnx.load(str(raw)), mtm.MODELS[base].input_hw), str(path))
        raw.unlink()
        return path
    return mtm.make(stem, models, ("onnx",), quiet_detector=stem.startswith("yolox"))["onnx"]


def gflops(stem: str) -> float:
    """Multiply-adds x 2 of the network at its input size, counted from the convolutions' output shapes."""
    import torch

    from tools.make_test_models import END2END, MODELS

    spec = MODELS[END2END.get(stem, stem)]
    with torch.device("meta"):
        net = spec.build()
    total = 0

    def hook(mod, _inp, out):
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total += out.numel() * (mod.in_channels // mod.groups) * k

    for mod in net.modules():
        if isinstance(mod, torch.nn.Conv2d):
            mod.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.empty(1, 3, *spec.input_hw, device="meta"))
    return 2 * total / 1e9


def stage_ms(path: Path, repeats: int) -> float:
    """Median milliseconds of the detection stage on one 512x768 frame (ONNX Runtime, CPU)."""
    from dwpose_core.backends import load_model
    from dwpose_core.stages.detection import PersonDetector

    detector = PersonDetector(load_model(path, backend="onnxruntime"))
    frame = np.random.default_rng(0).integers(0, 256, FRAME_HW + (3,), dtype=np.uint8)
    detector([frame])  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        detector([frame])
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


PRESET_RUN = textwrap.dedent('''
    import sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, {root!r})
    import numpy as np
    from dwpose_core.pipeline import WholeBodyEstimator
    est = WholeBodyEstimator({det!r}, {pose!r}, backend="onnxruntime", det_size={size!r}, download=False)
    rng = np.random.default_rng(0)
    h, w = {hw!r}
    box = np.array([[w * 0.25, h * 0.1, w * 0.75, h * 0.9]], np.float32)
    for i in range({n}):
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        est.detector([frame])              # the detector on every image (the quiet one finds nobody)
        est([frame], boxes=[box])          # and one person's pose
    print(time.perf_counter() - t0)
''')


def preset_rate(det: Path, size: int, pose: Path, images: int, repeats: int) -> float:
    """Images per second of whole processes (best of ``repeats``), timed from outside."""
    code = PRESET_RUN.format(root=str(ROOT), det=str(det), pose=str(pose), size=size, hw=FRAME_HW, n=images)
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        took = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(proc.stderr[-1500:])
        best = took if best is None else min(best, took)
    return images / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", type=Path, default=ROOT / "benchmarks" / "models" / "detectors")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--preset-repeats", type=int, default=2)
    p.add_argument("--only", default="", help="comma list of detectors (default: all)")
    p.add_argument("--skip-presets", action="store_true")
    p.add_argument("--skip-detectors", action="store_true")
    args = p.parse_args()
    args.models_dir.mkdir(parents=True, exist_ok=True)
    import onnxruntime
    import platform

    print(f"{platform.processor() or platform.machine()}, onnxruntime {onnxruntime.__version__}, "
          f"frame {FRAME_HW[1]}x{FRAME_HW[0]}, median of {args.repeats}\n")
    wanted = [] if args.skip_detectors else [n for n in DETECTORS if not args.only or n in args.only.split(",")]
    ms = {}
    if wanted:
        print("| detector | input | GFLOPs (counted / published) | CPU ms per frame | COCO AP | licence |")
        print("|---|---|---|---|---|---|")
    for name in wanted:
        stem, size, ap, published, licence = DETECTORS[name]
        ms[name] = stage_ms(ensure(stem, args.models_dir), args.repeats)
        ap_text = f"{ap}" if ap is not None else "- (person-only)"
        print(f"| `{name}` | {size} | {gflops(stem):.2f} / {published} | {ms[name]:.0f} | {ap_text} | {licence} |",
              flush=True)
    for name, why in NOT_MEASURED.items() if wanted else ():
        print(f"| `{name}` | 640 | - | not measured: {why} | - | - |")
    if "yolox_tiny" in ms and "yolox_l" in ms:
        print(f"\nYOLOX-Tiny 416 / YOLOX-L 640 detector stage: 1/{ms['yolox_l'] / ms['yolox_tiny']:.1f} of the time")
    if args.skip_presets:
        return
    from dwpose_core.hub import presets

    print(f"\n| preset | detector | pose | images/s (whole process, {args.images} images, one person each) |")
    print("|---|---|---|---|")
    rows = [("custom (default)", "yolox_l.onnx", 640, "dw-ll_ucoco_384.onnx")] + [
        (p.name, p.detector, p.det_size, p.pose) for p in presets.PRESETS.values()]
    for label, det, size, pose in rows:
        det_stem = det[:-len(".onnx")]
        pose_stem = POSE_STEMS.get(pose)
        if det_stem not in DETECTORS or pose_stem is None:
            print(f"| {label} | {det} | {pose} | not measured (no test model) |")
            continue
        det_path = ensure(det_stem, args.models_dir)
        pose_path = ensure(pose_stem, args.models_dir)
        rate = preset_rate(det_path, size, pose_path, args.images, args.preset_repeats)
        print(f"| {label} | {det} {size} | {pose} | {rate:.2f} |", flush=True)


if __name__ == "__main__":
    main()
