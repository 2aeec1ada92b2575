"""Independent architecture check against mmpose's own RTMPose and RTMW (dev-only dependency).

A child process builds RTMPose / RTMW from mmpose's shipped configs (whole-body,
RTMW cocktail14, hand5) with
random weights (BatchNorm statistics randomised too, so folding matters),
saves its state dict as an mmengine-style checkpoint, exports it to ONNX and
records mmpose's outputs on fixed inputs. Our torch modules, loading that
checkpoint or that ONNX file, must give the same SimCC outputs.

mmpose is not a runtime dependency; install it as described in
requirements-dev-mmpose.txt (or into a folder with ``pip --target`` and name it in
``DWPOSE_MMPOSE_PATH``: only the child sees it). Without it these tests skip and say why. The child
process keeps mmpose's import-time stand-ins (for mmcv.ops and torchvision,
which the RTMPose path never calls) out of the test session.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from dwpose_core.torch_models.loading import build_network, load_weights  # noqa: E402

CONFIGS = {
    # name: (config under mmpose's configs/, export to ONNX too)
    "t": ("wholebody_2d_keypoint/rtmpose/ubody/rtmpose-t_8xb64-270e_coco-ubody-wholebody-256x192.py", False),
    "l384": ("wholebody_2d_keypoint/rtmpose/ubody/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py", True),
    # RTMW (CSPNeXt + CSPNeXtPAFPN + RTMWHead) and the RTMPose-m hand5 model of the refinement pass.
    "rtmw_m": ("wholebody_2d_keypoint/rtmpose/cocktail14/rtmw-m_8xb1024-270e_cocktail14-256x192.py", True),
    "hand5": ("hand_2d_keypoint/rtmpose/hand5/rtmpose-m_8xb256-210e_hand5-256x256.py", False),
}
# name -> (variant, arch, keypoints) our loader must recognise
EXPECTED = {"t": ("t", "rtmpose", 133), "l384": ("l", "rtmpose", 133), "rtmw_m": ("m", "rtmw", 133),
            "hand5": ("m", "rtmpose", 21)}

CHILD = textwrap.dedent(r'''
    import importlib.abc, importlib.machinery, json, os, sys, types
    out_dir, names = sys.argv[1], sys.argv[2:]

    class _Stub(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            value = type(name, (), {"__init__": lambda self, *a, **k: None})
            setattr(self, name, value)
            return value

    class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        # mmpose.models imports these at module level; the RTMPose forward never uses them.
        roots = ("mmcv.ops", "torchvision", "pycocotools", "shapely", "terminaltables", "xtcocotools",
                 "matplotlib", "json_tricks", "munkres")
        def find_spec(self, name, path=None, target=None):
            if any(name == r or name.startswith(r + ".") for r in self.roots):
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
        def create_module(self, spec):
            module = _Stub(spec.name); module.__path__ = []; return module
        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _StubFinder())
    try:
        import torch
        import mmpose
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmpose.registry import MODELS
        import mmpose.models  # noqa: F401  (registers RTMPose parts)
    except Exception as exc:
        print("SKIP " + f"{type(exc).__name__}: {exc}")
        sys.exit(0)

    init_default_scope("mmpose")
    cfg_dir = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")
    gen = torch.Generator().manual_seed(0)
    report = {}
    for item in names:
        name, cfg_file, export = item.split(":")
        cfg = Config.fromfile(os.path.join(cfg_dir, cfg_file))
        cfg.model.backbone.pop("init_cfg", None)  # a download of pretrained weights
        model = MODELS.build(cfg.model)  # torch's default init + the randomisation below
        with torch.no_grad():
            for mod_name, mod in model.named_modules():
                if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                    mod.weight.uniform_(0.6, 1.2, generator=gen)
                    mod.bias.normal_(0, 0.1, generator=gen)
                    mod.running_mean.normal_(0, 0.1, generator=gen)
                    mod.running_var.uniform_(0.5, 2.0, generator=gen)
                elif isinstance(mod, torch.nn.Linear):
                    mod.weight.normal_(0, mod.in_features ** -0.5, generator=gen)
            for pname, p in model.head.named_parameters():
                if pname.endswith(("gamma", "beta", ".g", "scale")):
                    p.uniform_(0.5, 1.5, generator=gen)
        model.eval()
        w, h = cfg.codec.input_size
        x = torch.randn(2, 3, h, w, generator=gen)
        with torch.no_grad():
            simcc_x, simcc_y = model._forward(x)
        torch.save({"meta": {"cfg": cfg.pretty_text}, "state_dict": model.state_dict()},
                   os.path.join(out_dir, name + ".pth"))
        torch.save({"x": x, "simcc_x": simcc_x, "simcc_y": simcc_y}, os.path.join(out_dir, name + ".io.pt"))
        if export == "1":
            class Wrap(torch.nn.Module):
                def __init__(self, m):
                    super().__init__(); self.m = m
                def forward(self, inp):
                    return self.m._forward(inp)
            torch.onnx.export(Wrap(model), (x[:1],), os.path.join(out_dir, name + ".onnx"),
                              input_names=["input"], output_names=["simcc_x", "simcc_y"],
                              opset_version=11, dynamo=False)
        report[name] = {"params": sum(p.numel() for p in model.parameters()), "input_wh": [w, h]}
    print("DONE " + json.dumps(report))
''')


@pytest.fixture(scope="module")
def mmpose_models(tmp_path_factory):
    out = tmp_path_factory.mktemp("mmpose")
    items = [f"{n}:{cfg}:{int(export)}" for n, (cfg, export) in CONFIGS.items()]
    env = dict(os.environ)
    extra = os.environ.get("DWPOSE_MMPOSE_PATH")  # packages installed with `pip --target`, child only
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), *items], capture_output=True, text=True,
                          timeout=600, env=env)
    lines = proc.stdout.splitlines()
    skip = [line for line in lines if line.startswith("SKIP ")]
    if skip:
        pytest.skip(f"mmpose is not importable ({skip[0][5:]}); see requirements-dev-mmpose.txt")
    done = [line for line in lines if line.startswith("DONE ")]
    assert proc.returncode == 0 and done, proc.stderr[-3000:]
    return out, json.loads(done[0][5:])


def _compare(net, io, tol=1e-4):
    with torch.no_grad():
        ours = net(io["x"])
    for got, ref in zip(ours, (io["simcc_x"], io["simcc_y"])):
        assert got.shape == ref.shape
        err = float((got - ref).abs().max() / (ref.max() - ref.min()))
        assert err < tol, f"relative error {err:.2e}"
        assert torch.equal(got.argmax(-1), ref.argmax(-1)) or err < 1e-5


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mmpose_checkpoint_loads_and_matches_mmpose(mmpose_models, name):
    out, report = mmpose_models
    spec, state = load_weights(out / f"{name}.pth", cache=False)
    w, h = report[name]["input_wh"]
    assert spec.input_hw == (h, w)
    assert (spec.variant, spec.arch, spec.num_keypoints) == EXPECTED[name]
    net = build_network(spec, state)
    # Same weights, BatchNorm folded: parameter count = mmpose's minus the BatchNorm affine pairs
    # plus one bias per folded conv (equal counts, since each BN has as many channels as its conv).
    raw = torch.load(out / f"{name}.pth")["state_dict"]
    bn_channels = sum(v.numel() for k, v in raw.items() if k.endswith(".bn.weight"))
    assert sum(p.numel() for p in net.parameters()) == report[name]["params"] - bn_channels
    _compare(net, torch.load(out / f"{name}.io.pt"))


@pytest.mark.parametrize("name", [n for n, (_, export) in CONFIGS.items() if export])
def test_mmpose_onnx_export_loads_and_matches_mmpose(mmpose_models, name):
    out, report = mmpose_models
    spec, state = load_weights(out / f"{name}.onnx")
    w, h = report[name]["input_wh"]
    assert spec.input_hw == (h, w)
    assert (spec.variant, spec.arch, spec.num_keypoints) == EXPECTED[name]
    _compare(build_network(spec, state), torch.load(out / f"{name}.io.pt"))
