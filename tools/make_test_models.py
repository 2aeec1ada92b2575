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
from dwpose_core.torch_models.rtmw_head import ConvReLU  # noqa: E402
from dwpose_core.torch_models.yolox import YOLOXSpec  # noqa: E402

# Published file stem -> architecture.
MODELS = {
    "dw-tt_ucoco": RTMPoseSpec("t", (256, 192)),
    "dw-ss_ucoco": RTMPoseSpec("s", (256, 192)),
    "dw-mm_ucoco": RTMPoseSpec("m", (256, 192)),
    "dw-ll_ucoco": RTMPoseSpec("l", (256, 192)),
    "dw-ll_ucoco_384": RTMPoseSpec("l", (384, 288)),
    # RTMW (mmpose cocktail14 configs) and the RTMPose-m hand5 model (21 points, 256x256).
    "rtmw-m_256x192": RTMPoseSpec("m", (256, 192), arch="rtmw"),
    "rtmw-l_256x192": RTMPoseSpec("l", (256, 192), arch="rtmw"),
    "rtmw-l_384x288": RTMPoseSpec("l", (384, 288), arch="rtmw"),
    "rtmw-x_384x288": RTMPoseSpec("x", (384, 288), arch="rtmw"),
    "rtmpose-m_hand5_256x256": RTMPoseSpec("m", (256, 256), num_keypoints=21),
    # Every YOLOX size at its published input size (Nano: depthwise convs; Nano and Tiny at 416).
    "yolox_nano": YOLOXSpec("nano", (416, 416)),
    "yolox_tiny": YOLOXSpec("tiny", (416, 416)),
    "yolox_s": YOLOXSpec("s"),
    "yolox_m": YOLOXSpec("m"),
    "yolox_l": YOLOXSpec("l"),
    "yolox_x": YOLOXSpec("x"),
}
# End-to-end detectors (mmdeploy-style: decode + NMS inside the graph, outputs dets/labels): name -> the
# raw YOLOX network inside. The real HumanArt files are person-only mmdet YOLOX exports of these sizes.
END2END = {"yolox_m_humanart": "yolox_m", "yolox_tiny_humanart": "yolox_tiny"}


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
    # RTMW's head convs end in ReLU: a keypoint map that is negative everywhere would be all zero and
    # its SimCC rows flat (ties). Shift their BatchNorm bias up so every map keeps some signal.
    relu = {name for name, mod in model.named_modules() if isinstance(mod, ConvReLU)}
    for name, param in model.named_parameters():
        shape = tuple(param.shape)
        owner = name.rsplit(".", 2)[0] if name.count(".") >= 2 else ""
        if name.endswith(".conv.weight") and owner in convact:
            fan_in = shape[1] * shape[2] * shape[3]
            state[name] = rand(*shape) * (2.0 / fan_in) ** 0.5
            bn = name[: -len("conv.weight")] + "bn."
            c = shape[0]
            state[bn + "weight"] = uniform(0.6, 1.2, c)
            state[bn + "bias"] = uniform(0.5, 1.0, c) if owner in relu else rand(c) * 0.1
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
                 "dataset_meta": {"dataset_name": "coco_wholebody" if getattr(spec, "num_keypoints", 133) == 133
                                  else "hand5", "num_keypoints": getattr(spec, "num_keypoints", 80)}},
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


def append_end2end(model, input_hw, *, max_out: int = 100, iou: float = 0.65, score: float = 0.01,
                   input_name: str = "input"):
    """A raw YOLOX graph (output [1, N, 5 + classes]) -> an mmdeploy-style end-to-end graph: grid decode,
    person score = objectness x class 0, ONNX NonMaxSuppression, outputs ``dets`` [1, K, 5] (x1, y1, x2, y2,
    score in input pixels) and ``labels`` [1, K] (int64, all 0), K dynamic. Built with onnx.helper."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    raw = graph.output[0].name
    grids, strides = [], []
    for stride in (8, 16, 32):
        gh, gw = input_hw[0] // stride, input_hw[1] // stride
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
        strides.append(np.full((gh * gw, 1), stride))
    consts = {
        "e2e_grid": np.concatenate(grids)[None].astype(np.float32),
        "e2e_stride": np.concatenate(strides)[None].astype(np.float32),
        "e2e_half": np.array(0.5, np.float32),
        "e2e_s0": np.array([0], np.int64), "e2e_s2": np.array([2], np.int64), "e2e_s4": np.array([4], np.int64),
        "e2e_s5": np.array([5], np.int64), "e2e_s6": np.array([6], np.int64), "e2e_ax2": np.array([2], np.int64),
        "e2e_max": np.array([max_out], np.int64), "e2e_iou": np.array([iou], np.float32),
        "e2e_thr": np.array([score], np.float32), "e2e_idx1": np.array(1, np.int64),
        "e2e_idx2": np.array(2, np.int64), "e2e_ax0": np.array([0], np.int64),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
    n = helper.make_node
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=11)

    def squeeze(op, x, out, axis):  # axes: an attribute before opset 13, an input from 13 on
        return n(op, [x, f"e2e_ax{axis}"], [out]) if opset >= 13 else n(op, [x], [out], axes=[axis])

    graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "e2e_ax1"))
    graph.node.extend([
        n("Slice", [raw, "e2e_s0", "e2e_s2", "e2e_ax2"], ["e2e_xy"]),
        n("Slice", [raw, "e2e_s2", "e2e_s4", "e2e_ax2"], ["e2e_wh"]),
        n("Slice", [raw, "e2e_s4", "e2e_s5", "e2e_ax2"], ["e2e_obj"]),
        n("Slice", [raw, "e2e_s5", "e2e_s6", "e2e_ax2"], ["e2e_cls"]),
        n("Add", ["e2e_xy", "e2e_grid"], ["e2e_g"]), n("Mul", ["e2e_g", "e2e_stride"], ["e2e_c"]),
        n("Exp", ["e2e_wh"], ["e2e_ewh"]), n("Mul", ["e2e_ewh", "e2e_stride"], ["e2e_size"]),
        n("Mul", ["e2e_size", "e2e_half"], ["e2e_hs"]),
        n("Sub", ["e2e_c", "e2e_hs"], ["e2e_p1"]), n("Add", ["e2e_c", "e2e_hs"], ["e2e_p2"]),
        n("Concat", ["e2e_p1", "e2e_p2"], ["e2e_boxes"], axis=2),
        n("Mul", ["e2e_obj", "e2e_cls"], ["e2e_score"]),
        n("Transpose", ["e2e_score"], ["e2e_scores"], perm=[0, 2, 1]),
        n("NonMaxSuppression", ["e2e_boxes", "e2e_scores", "e2e_max", "e2e_iou", "e2e_thr"], ["e2e_sel"]),
        n("Gather", ["e2e_sel", "e2e_idx2"], ["e2e_keep"], axis=1),
        squeeze("Squeeze", "e2e_boxes", "e2e_b0", 0),
        squeeze("Squeeze", "e2e_scores", "e2e_sc1", 0),
        squeeze("Squeeze", "e2e_sc1", "e2e_sc0", 0),
        n("Gather", ["e2e_b0", "e2e_keep"], ["e2e_kb"], axis=0),
        n("Gather", ["e2e_sc0", "e2e_keep"], ["e2e_ks0"], axis=0),
        squeeze("Unsqueeze", "e2e_ks0", "e2e_ks", 1),
        n("Concat", ["e2e_kb", "e2e_ks"], ["e2e_d"], axis=1),
        squeeze("Unsqueeze", "e2e_d", "dets", 0),
        n("Gather", ["e2e_sel", "e2e_idx1"], ["e2e_lab"], axis=1),
        squeeze("Unsqueeze", "e2e_lab", "labels", 0),
    ])
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, "num_dets", 5]),
                         helper.make_tensor_value_info("labels", TensorProto.INT64, [1, "num_dets"])])
    if input_name and graph.input[0].name != input_name:
        old = graph.input[0].name
        graph.input[0].name = input_name
        for node in graph.node:
            node.input[:] = [input_name if i == old else i for i in node.input]
    onnx.checker.check_model(model)
    return model


def make_end2end(stem: str, out_dir: Path, seed: int = 0) -> Path:
    """``<stem>.onnx``: a random-weight YOLOX of END2END[stem]'s size with decode + NMS inside (dets/labels)."""
    import onnx

    base = END2END[stem]
    raw = make(base, out_dir / f".{stem}_raw", ("onnx",), seed)["onnx"]
    model = append_end2end(onnx.load(str(raw)), MODELS[base].input_hw)
    path = out_dir / f"{stem}.onnx"
    onnx.save(model, str(path))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--models", default="dw-ll_ucoco_384,yolox_l", help=f"comma list of {', '.join([*MODELS, *END2END])}")
    parser.add_argument("--formats", default="onnx,dynamic,pth")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet-detector", action="store_true", help="YOLOX objectness ~0 everywhere")
    parser.add_argument("--lean", action="store_true", help="no optimizer state in .pth (smaller files)")
    args = parser.parse_args(argv)
    for stem in args.models.split(","):
        start = time.perf_counter()
        if stem.strip() in END2END:
            print(f"{stem}: {make_end2end(stem.strip(), args.out_dir, args.seed)} "
                  f"({time.perf_counter() - start:.1f} s)")
            continue
        files = make(stem.strip(), args.out_dir, tuple(args.formats.split(",")), args.seed,
                     args.quiet_detector, args.lean)
        print(f"{stem}: {', '.join(str(p) for p in files.values())} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
