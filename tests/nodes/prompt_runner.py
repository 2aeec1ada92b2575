"""Run an API-format prompt's DWPose nodes through the pack's node code, as ComfyUI's executor does:
inputs by name, links resolved to the upstream node's outputs, hidden ``unique_id`` = the prompt's
node id, the node's output normalised to (result tuple, ui dict).

Core nodes are replaced by small stand-ins (``STAND_INS``): images and video frames from fixed
seeds, so that two runs (two versions of the pack) see the same input. Sinks (previews, savers,
video writers) are not run. :func:`fingerprint` reduces every output of our nodes to a digest.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

SINKS = {"PreviewImage", "SaveImage", "CreateVideo", "SaveVideo", "ControlNetApplyAdvanced", "KSampler",
         "VAEDecode", "CheckpointLoaderSimple", "CLIPTextEncode", "ControlNetLoader", "EmptyLatentImage"}


def _frames(n, h, w, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, h, w, 3), generator=g)


STAND_INS = {
    "LoadImage": lambda **_: (_frames(1, 240, 320, 1), None),
    "LoadVideo": lambda **_: ("video",),
    "GetVideoComponents": lambda video=None, **_: (_frames(3, 240, 320, 2), None, 16.0),
}


def v1_call(cls, node_id, kwargs):
    """A V1 node as ComfyUI runs it: an instance, its FUNCTION, hidden inputs by name."""
    spec = cls.INPUT_TYPES()
    if "unique_id" in spec.get("hidden", {}):
        kwargs = {**kwargs, "unique_id": node_id}
    out = getattr(cls(), cls.FUNCTION)(**kwargs)
    if isinstance(out, dict):
        return tuple(out.get("result", ())), out.get("ui")
    return tuple(out), None


def run_prompt(prompt: dict, classes: dict, call) -> dict:
    """node id -> (result tuple, ui) for every node of ours (and what they depend on)."""
    done: dict = {}

    def run(node_id):
        if node_id in done:
            return done[node_id][0]
        node = prompt[node_id]
        kwargs = {}
        for name, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                kwargs[name] = run(value[0])[value[1]]
            else:
                kwargs[name] = value
        kind = node["class_type"]
        if kind in classes:
            done[node_id] = call(classes[kind], node_id, kwargs)
        else:
            done[node_id] = (STAND_INS[kind](**kwargs), None)
        return done[node_id][0]

    for node_id, node in prompt.items():
        if node["class_type"] in classes:
            run(node_id)
    return {k: v for k, v in done.items() if prompt[k]["class_type"] in classes}


def _digest(value) -> str:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        data = np.round(value.astype(np.float64) * 255).astype(np.int64)
        return "array%s:%s" % (list(value.shape), hashlib.sha256(data.tobytes()).hexdigest()[:16])
    text = json.dumps(value, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return repr(type(value))


def fingerprint(outputs: dict, prompt: dict) -> dict:
    """node id -> {"type", "result": [digest per output], "ui": digest (file names left out)}."""
    out = {}
    for node_id, (result, ui) in sorted(outputs.items()):
        ui = json.loads(json.dumps(ui or {}, default=_plain))
        ui.pop("files", None)  # names carry a counter
        out[node_id] = {"type": prompt[node_id]["class_type"], "result": [_digest(v) for v in result],
                        "ui": _digest(ui)}
    return out
