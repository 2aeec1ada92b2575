"""This project vs comfyui_controlnet_aux's DWPose, whole processes, same model files and images.

    python benchmarks/compare_aux.py --aux-src PATH/comfyui_controlnet_aux/src [--images 4] [--presets fast]

Not installed with the pack: point ``--aux-src`` at the ``src`` folder of a checkout of
comfyui_controlnet_aux (nothing of it is copied here); without it the comparison is skipped with
a note. Each side runs in a fresh process (imports, model loading, inference, drawing, one PNG
and one JSON per image), timed from outside; the best of ``--repeats`` runs is reported.
The reference runs as its node does on a machine like this one: OpenCV DNN when ONNX Runtime has
no GPU provider (its own rule). matplotlib (one colour conversion) and torchvision (imported by
its OpenPose body code, not used by DWPose) are replaced in its process by stand-ins when missing.

Workloads: ``det``: the quiet random YOLOX-L finds nobody, so both run the detector only (the
pose stage is skipped by both); ``nodet``: no detector, one whole-frame pose crop per image.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MATPLOTLIB_STAND_IN = textwrap.dedent('''
    import colorsys, numpy as np
    def hsv_to_rgb(hsv):
        return np.array(colorsys.hsv_to_rgb(*hsv))
''')

AUX_RUN = textwrap.dedent('''
    import sys, json, time, importlib.util, types
    if importlib.util.find_spec("matplotlib") is None:
        mpl = types.ModuleType("matplotlib"); colors = types.ModuleType("matplotlib.colors")
        exec({stand_in!r}, colors.__dict__); mpl.colors = colors; mpl.pyplot = types.ModuleType("matplotlib.pyplot")
        sys.modules.update({{"matplotlib": mpl, "matplotlib.colors": colors, "matplotlib.pyplot": mpl.pyplot}})
    if importlib.util.find_spec("torchvision") is None:  # imported by its OpenPose body code, unused by DWPose
        tv = types.ModuleType("torchvision"); tv.transforms = types.ModuleType("torchvision.transforms")
        tv.transforms.ToTensor = tv.transforms.ToPILImage = type("Unused", (), {{}})
        sys.modules.update({{"torchvision": tv, "torchvision.transforms": tv.transforms}})
    sys.path.insert(0, {src!r})
    import cv2, numpy as np
    from custom_controlnet_aux.dwpose import DwposeDetector
    from custom_controlnet_aux.dwpose.wholebody import Wholebody
    det = DwposeDetector(Wholebody({det!r}, {pose!r}, torchscript_device="cpu"))
    for i, path in enumerate({images!r}):
        img = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        pic, pose = det(img, detect_resolution=min(img.shape[:2]), include_hand=True, include_face=True,
                        output_type="np", image_and_json=True)
        cv2.imwrite({out!r} + f"/{{i}}_pose.png", pic)
        open({out!r} + f"/{{i}}.json", "w").write(json.dumps(pose))
''')


def best_of(cmd, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode:
            raise RuntimeError(f"{cmd[:3]} failed:\n{proc.stderr[-1500:]}")
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--aux-src", type=Path, help="src folder of a comfyui_controlnet_aux checkout")
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--workloads", default="det,nodet")
    p.add_argument("--det-sizes", default="640,416", help="det sizes for this project's det workload")
    p.add_argument("--models-dir", type=Path, default=ROOT / "benchmarks" / "models")
    p.add_argument("--presets", default="", help="also run these presets (e.g. fast) on the det workload, with "
                                                 "quiet random-weight models of their files (benchmarks/detectors.py)")
    args = p.parse_args()
    if args.aux_src is None or not (args.aux_src / "custom_controlnet_aux" / "dwpose").is_dir():
        print("comfyui_controlnet_aux not found (pass --aux-src PATH/src): comparison skipped.")
        return
    from benchmarks.run import ensure_models

    models = ensure_models(args.models_dir, dynamic=False)  # quiet random YOLOX-L + DWPose-l 384
    work = Path(tempfile.mkdtemp(prefix="dwpose_cmp_"))
    rng = np.random.default_rng(0)
    import cv2

    images = []
    for i in range(args.images):
        path = work / f"img{i}.png"
        cv2.imwrite(str(path), rng.integers(0, 256, (768, 512, 3), dtype=np.uint8))
        images.append(str(path))
    print(f"{args.images} images 512x768, best of {args.repeats} whole processes")
    for workload in args.workloads.split(","):
        det = str(models["detector"]) if workload == "det" else None
        out = work / f"aux_{workload}"
        out.mkdir()
        code = AUX_RUN.format(stand_in=MATPLOTLIB_STAND_IN, src=str(args.aux_src), det=det,
                              pose=str(models["pose"]), images=images, out=str(out))
        aux = best_of([sys.executable, "-c", code], args.repeats)
        print(f"  {workload:6s} comfyui_controlnet_aux: {aux:6.2f} s", flush=True)
        sizes = args.det_sizes.split(",") if workload == "det" else ["640"]
        for size in sizes:
            cmd = [sys.executable, "-m", "dwpose_core", *images, "--det", det or "none", "--pose", str(models["pose"]),
                   "--out", str(work / f"ours_{workload}_{size}"), "-q", "--det-size", size]
            ours = best_of(cmd, args.repeats)
            label = f"this project (det-size {size})" if workload == "det" else "this project"
            print(f"  {workload:6s} {label}: {ours:6.2f} s  ({aux / ours:.2f}x faster)", flush=True)
        if workload == "det":
            for name in filter(None, args.presets.split(",")):
                ours = best_of(preset_command(name, images, work, args.models_dir), args.repeats)
                print(f"  {workload:6s} this project (--preset {name}): {ours:6.2f} s  ({aux / ours:.2f}x faster)",
                      flush=True)


def preset_command(name: str, images: list, work: Path, models_dir: Path) -> list:
    """The command line of a preset, with its models as quiet random-weight files (same architecture)."""
    from benchmarks.detectors import POSE_STEMS, ensure
    from dwpose_core.hub import presets

    preset = presets.PRESETS[name]
    det = ensure(preset.detector[:-len(".onnx")], models_dir / "detectors")
    pose = ensure(POSE_STEMS[preset.pose], models_dir / "detectors")
    return [sys.executable, "-m", "dwpose_core", *images, "--det", str(det), "--pose", str(pose),
            "--out", str(work / f"ours_preset_{name}"), "-q", "--det-size", str(preset.det_size)]


if __name__ == "__main__":
    main()
