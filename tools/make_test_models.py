"""Architecture-faithful DWPose/YOLOX models with fixed-seed random weights, for tests and benchmarks.

The real weights cannot be downloaded here, so this writes files with the
published names, input/output names and shapes, and the same compute:

* ``<name>.onnx``          batch fixed to 1, like the published files (opset 11, one file)
* ``<name>_dynamic.onnx``  the same weights with a dynamic batch axis
* ``<name>.pth``           an mmengine-style training checkpoint: unfused
  (conv + BatchNorm) ``state_dict``, Adam optimizer state, ``meta`` and a
  ``message_hub`` holding a non-tensor object, so ``torch.load(weights_only=True)``
  refuses it exactly as it refuses the published checkpoints.

The ONNX files hold the BatchNorm-folded version of the checkpoint's weights,
as an exporter would produce.

Usage: python tools/make_test_models.py OUT_DIR [--models dw-tt_ucoco,yolox_l] [--formats onnx,dynamic,pth]
       [--seed 0] [--quiet-detector]
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dwpose_core.torch_models.layers import ConvAct  # noqa: E402
from dwpose_core.torch_models.loading import DEFAULT_BN_EPS, build_network, fold_batchnorm  # noqa: E402
from dwpose_core.torch_models.rtmpose import RTMPoseSpec  # noqa: E402
from dwpose_core.torch_models.yolox import YOLOXSpec  # noqa: E402

# Published file stem -> architecture.
MODELS = {
    "dw-tt_ucoco": RTMPoseSpec("t", (256, 192)),
    "dw-ss_ucoco": RTMPoseSpec("s", (256, 192)),
    "dw-mm_ucoco": RTMPoseSpec("m", (256, 192)),
    "dw-ll_ucoco": RTMPoseSpec("l", (256, 192)),
    "dw-ll_ucoco_384": RTMPoseSpec("l", (384, 288)),
    "yolox_l": YOLOXSpec("l"),
    "yolox_s": YOLOXSpec("s"),
    "yolox_tiny": YOLOXSpec("tiny", (416, 416)),
}


class HistoryBuffer:
    """Stand-in for mmengine's message-hub buffers: a plain object weights_only loading refuses."""

    def __init__(self, values):
        self._log_history = list(values)
        self._count_history = [1] * len(values)
        self.max_length = 1000000


def random_checkpoint_state(spec, seed: int = 0, quiet_detector: bool = False) -> dict[str, torch.Tensor]:
    """Unfused mmpose/YOLOX-style state dict (conv without bias + BatchNorm), fixed seed.

    Scales keep activations of order one through the whole network so that the
    outputs are chaotic but not saturated. ``quiet_detector`` makes YOLOX's
    objectness tiny everywhere (no detections), for benchmarks with given boxes.
    """
    gen = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=gen)  # noqa: E731
    uniform = lambda lo, hi, *shape: lo + (hi - lo) * torch.rand(*shape, generator=gen)  # noqa: E731
    with torch.device("meta"):
        model = spec.build()
    state: dict[str, torch.Tensor] = collections.OrderedDict()
    convact = {name for name, mod in model.named_modules() if isinstance(mod, ConvAct)}
    for name, param in model.named_parameters():
        shape = tuple(param.shape)
        owner = name.rsplit(".", 2)[0] if name.count(".") >= 2 else ""
        if name.endswith(".conv.weight") and owner in convact:
            fan_in = shape[1] * shape[2] * shape[3]
            state[name] = rand(*shape) * (2.0 / fan_in) ** 0.5
            bn = name[: -len("conv.weight")] + "bn."
            c = shape[0]
            state[bn + "weight"] = uniform(0.6, 1.2, c)
            state[bn + "bias"] = rand(c) * 0.1
            state[bn + "running_mean"] = rand(c) * 0.1
            state[bn + "running_var"] = uniform(0.5, 2.0, c)
            state[bn + "num_batches_tracked"] = torch.tensor(1000)
        elif name.endswith(".conv.bias") and owner in convact:
            continue  # ConvModule convs have no bias before folding
        elif len(shape) == 4:  # plain convs: channel attention, final layer, YOLOX predictors
            state[name] = rand(*shape) * (1.0 / (shape[1] * shape[2] * shape[3])) ** 0.5
        elif len(shape) == 2:  # linear layers, (out, in)
            state[name] = rand(*shape) * (1.0 / shape[1]) ** 0.5
        elif name.endswith(("gamma", ".g", "res_scale.scale")):
            state[name] = uniform(0.5, 1.5, *shape)
        else:  # biases, beta
            state[name] = rand(*shape) * 0.1
    if spec.kind == "yolox":  # YOLOX sees raw 0-255 pixels: scale the stem to unit-sized activations
        state["backbone.backbone.stem.conv.conv.weight"] /= 128.0
        for k in range(3):  # and widen the predictions' spread (features there are ~0.1)
            for pred in ("cls_preds", "reg_preds", "obj_preds"):
                state[f"head.{pred}.{k}.weight"] *= 10.0
    if quiet_detector and spec.kind == "yolox":
        for k in range(3):
            state[f"head.obj_preds.{k}.weight"] *= 0.01
            state[f"head.obj_preds.{k}.bias"].fill_(-12.0)
    return state


def fused_network(spec, checkpoint_state: dict[str, torch.Tensor]) -> torch.nn.Module:
    fused = fold_batchnorm({k: v for k, v in checkpoint_state.items() if not k.endswith("num_batches_tracked")},
                           DEFAULT_BN_EPS[spec.kind])
    return build_network(spec, fused, "generated weights")


class _Export(torch.nn.Module):
    """Wraps the network so the exported graph has only the published outputs (tuple for RTMPose)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def export_onnx(net: torch.nn.Module, path: Path, dynamic: bool = False) -> Path:
    spec = net.spec
    dummy = torch.zeros(1, 3, *spec.input_hw)
    axes = None
    if dynamic:
        axes = {spec.input_name: {0: "batch"}, **{name: {0: "batch"} for name in spec.output_names}}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(_Export(net), (dummy,), str(path), input_names=[spec.input_name],
                      output_names=list(spec.output_names), opset_version=11, dynamic_axes=axes,
                      do_constant_folding=True, dynamo=False)
    return path


def save_mmengine_checkpoint(state: dict[str, torch.Tensor], path: Path, spec, lean: bool = False) -> Path:
    """Save like mmengine's Runner: state_dict + optimizer + meta + message_hub (+ param_schedulers)."""
    params = [v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    optimizer = {"state": {}, "param_groups": [{"lr": 4e-3, "betas": (0.9, 0.999), "weight_decay": 0.05,
                                                 "params": list(range(len(params)))}]}
    if not lean:
        for i, p in enumerate(params):
            optimizer["state"][i] = {"step": torch.tensor(270.0), "exp_avg": torch.zeros_like(p),
                                     "exp_avg_sq": torch.full_like(p, 1e-8)}
    checkpoint = {
        "meta": {"mmengine_version": "0.10.7", "epoch": 270, "iter": 123456, "seed": 0,
                 "experiment_name": f"random-{spec.title}", "cfg": f"# random weights for {spec.title}\n",
                 "dataset_meta": {"dataset_name": "coco_wholebody", "num_keypoints": 133}},
        "state_dict": state,
        "optimizer": optimizer,
        "param_schedulers": [{"base_values": [4e-3], "last_step": 270}],
        "message_hub": {"log_scalars": {"train/lr": HistoryBuffer([4e-3, 2e-3])},
                        "runtime_info": {"epoch": 270, "iter": 123456}, "resumed_keys": {"epoch": True}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, str(path))
    return path


def make(stem: str, out_dir: Path, formats=("onnx", "dynamic", "pth"), seed: int = 0,
         quiet_detector: bool = False, lean: bool = False) -> dict[str, Path]:
    """Write the requested files for one published model name; returns {format: path}."""
    spec = MODELS[stem]
    state = random_checkpoint_state(spec, seed, quiet_detector)
    written: dict[str, Path] = {}
    if "pth" in formats:
        written["pth"] = save_mmengine_checkpoint(state, out_dir / f"{stem}.pth", spec, lean)
    if "onnx" in formats or "dynamic" in formats:
        net = fused_network(spec, state)
        if "onnx" in formats:
            written["onnx"] = export_onnx(net, out_dir / f"{stem}.onnx")
        if "dynamic" in formats:
            written["dynamic"] = export_onnx(net, out_dir / f"{stem}_dynamic.onnx", dynamic=True)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--models", default="dw-ll_ucoco_384,yolox_l", help=f"comma list of {', '.join(MODELS)}")
    parser.add_argument("--formats", default="onnx,dynamic,pth")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet-detector", action="store_true", help="YOLOX objectness ~0 everywhere")
    parser.add_argument("--lean", action="store_true", help="no optimizer state in .pth (smaller files)")
    args = parser.parse_args(argv)
    for stem in args.models.split(","):
        start = time.perf_counter()
        files = make(stem.strip(), args.out_dir, tuple(args.formats.split(",")), args.seed,
                     args.quiet_detector, args.lean)
        print(f"{stem}: {', '.join(str(p) for p in files.values())} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
