"""The example workflows: only existing node types, links between matching types, our nodes'
slots and widget values as the nodes declare them, and a thumbnail for each."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "example_workflows").glob("*.json"))
CORE = {line.strip() for line in (ROOT / "tests" / "data" / "comfy_core_nodes.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}

_spec = importlib.util.spec_from_file_location("comfy_stub_loader", ROOT / "tests" / "comfy_stubs" / "loader.py")
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import prompt_runner  # noqa: E402
import schema_snapshot  # noqa: E402
import workflow_prompt
from test_nodes_v3 import APPENDED  # noqa: E402

API_PROMPTS = ROOT / "tests" / "nodes" / "data" / "api_prompts"


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    pack, _root = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    return pack


@pytest.fixture(scope="module")
def ours(pack):
    return loader.node_classes(pack)


@pytest.fixture(scope="module")
def declared(ours):
    """node id -> what the V3 node declares, in the snapshot's shape (schema_snapshot.normalise)."""
    dynamic = schema_snapshot.dynamic_choices(loader.PACK_NAME)
    return {name: schema_snapshot.normalise(schema_snapshot.info_v3(cls), dynamic) for name, cls in ours.items()}


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_template_has_a_thumbnail():
    assert {p.stem for p in WORKFLOWS} >= {"dwpose_image_to_controlnet", "dwpose_video_to_json",
                                           "dwpose_json_to_pose_images", "dwpose_wan_animate_preprocess",
                                           "dwpose_steadydancer_pose_video"}
    import cv2

    for path in WORKFLOWS:
        thumb = path.with_suffix(".jpg")
        assert thumb.is_file(), f"{thumb.name} is missing"
        image = cv2.imdecode(np.fromfile(str(thumb), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and min(image.shape[:2]) >= 128
        assert image.std() > 10  # a picture, not a blank


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_uses_only_existing_node_types(path, ours):
    unknown = {n["type"] for n in load(path)["nodes"]} - CORE - set(ours)
    assert not unknown, f"{path.name} uses unknown node types {unknown}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_links_connect_matching_types(path):
    wf = load(path)
    nodes = {n["id"]: n for n in wf["nodes"]}
    assert len(nodes) == len(wf["nodes"]), "duplicate node ids"
    for link_id, src, src_slot, dst, dst_slot, link_type in wf["links"]:
        out = nodes[src]["outputs"][src_slot]
        inp = nodes[dst]["inputs"][dst_slot]
        assert out["type"] == link_type == inp["type"], f"link {link_id}: {out['type']} -> {inp['type']}"
        assert link_id in (out["links"] or []) and inp["link"] == link_id
    assert wf["last_link_id"] >= max(link[0] for link in wf["links"])
    assert wf["last_node_id"] >= max(nodes)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_our_nodes_match_their_declarations(path, declared):
    """Each node of ours in a saved workflow: output types, socket types and widget values line up
    with what the V3 node declares (no red node, no shifted widget)."""
    for node in load(path)["nodes"]:
        info = declared.get(node["type"])
        if info is None:
            continue
        assert [o["type"] for o in node["outputs"]] == info["output"]
        assert [o["name"] for o in node["outputs"]] == info["output_name"]
        sockets = {name: d[0] for section in info["input"].values() for name, d in section.items()}
        for inp in node["inputs"]:
            assert sockets.get(inp["name"]) == inp["type"], f"{node['type']}.{inp['name']}"
        names = workflow_prompt.widget_names(info)
        values = node.get("widgets_values", [])
        appended = APPENDED.get(node["type"], [])
        assert len(values) in (len(names), len(names) - len(appended)), \
            f"{node['type']} #{node['id']}: widget values do not line up"
        assert names[len(names) - len(appended):] == appended  # only widgets appended since can be missing
        every = {name: d for section in info["input"].values() for name, d in section.items()}
        for name, value in zip(names, values):
            kind, options = every[name]
            if kind == "COMBO":
                if name in schema_snapshot.DYNAMIC_COMBOS:
                    continue  # files on the user's disk
                assert value in options["options"], f"{node['type']}.{name} = {value!r} is not a choice"
            elif kind in ("INT", "FLOAT"):
                assert options.get("min", -np.inf) <= value <= options.get("max", np.inf), f"{name}={value}"
            elif kind == "BOOLEAN":
                assert isinstance(value, bool)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_a_saved_workflow_queues_the_same_api_prompt_as_before(path, declared):
    """The frontend names a loaded workflow's widget values by the node's declared widget order: with
    the V3 declarations, every saved (UI-format) workflow gives exactly the API-format prompt the
    last V1 version gave (tests/nodes/data/api_prompts/, written from the V1 snapshot)."""
    before = json.loads((API_PROMPTS / path.name).read_text(encoding="utf-8"))
    now = workflow_prompt.to_api_prompt(load(path), declared)
    for node_id, node in now.items():  # widgets appended since: present at their defaults, nothing else moved
        for name in APPENDED.get(node["class_type"], []):
            default = {"preset": "custom", "refine_hands": "off"}[name]
            assert node["inputs"].pop(name) == default, f"{node_id}.{name}"
    assert now == before


# ------------------------------------------------------------------------------ running them

@pytest.fixture(scope="module")
def models(pack):
    """Stand-ins for the default models (the names the workflows use), oracle models with the real I/O."""
    import folder_paths
    from oracles import make_detector, make_pose

    folder = Path(folder_paths.models_dir) / "dwpose"
    folder.mkdir(parents=True, exist_ok=True)
    make_detector(folder / "yolox_l.onnx", [(100.0, 60.0, 300.0, 400.0, 0.9), (340.0, 80.0, 500.0, 420.0, 0.8)])
    make_pose(folder / "dw-ll_ucoco_384.onnx", (384, 288))
    poses = Path(folder_paths.get_input_directory()) / "poses.json"
    poses.write_bytes((ROOT / "tests" / "nodes" / "data" / "poses_fixture.json").read_bytes())
    return folder


def v3_call(cls, node_id, kwargs):
    """ComfyUI's order for a V3 node: validate_inputs on the widget values, then execute."""
    constants = {k: v for k, v in kwargs.items() if isinstance(v, (str, int, float, bool))}
    if "validate_inputs" in vars(cls):
        verdict = loader.validate(cls, unique_id=node_id, **constants)
        assert verdict is True, f"{cls.__name__}: {verdict}"
    out = loader.run(cls, unique_id=node_id, **kwargs)
    return out["result"], out["ui"]


@pytest.mark.parametrize("path", sorted(API_PROMPTS.glob("*.json")), ids=lambda p: p.stem)
def test_api_format_prompts_of_the_previous_version_run(path, ours, models):
    """A prompt queued through the API with the previous version (names, not positions) runs on the
    V3 nodes: every node of ours gives its declared outputs."""
    prompt = json.loads(path.read_text(encoding="utf-8"))
    outputs = prompt_runner.run_prompt(prompt, ours, v3_call)
    assert outputs, "the prompt has none of our nodes"
    for node_id, (result, ui) in outputs.items():
        cls = ours[prompt[node_id]["class_type"]]
        assert len(result) == len(cls.RETURN_TYPES), node_id
        for kind, value in zip(cls.RETURN_TYPES, result):
            if kind == "POSE_KEYPOINT":
                assert isinstance(value, list) and value and all("people" in f for f in value)
            elif kind == "IMAGE":
                assert value.ndim == 4 and value.shape[-1] == 3
            elif kind == "BOUNDING_BOX":
                assert all(isinstance(b, dict) and set(b) == {"x", "y", "width", "height"}
                           for frame in value for b in frame)
    people = [f["people"] for node_id, (result, _ui) in outputs.items()
              for kind, value in zip(ours[prompt[node_id]["class_type"]].RETURN_TYPES, result)
              if kind == "POSE_KEYPOINT" for f in value]
    assert any(people), "no node found anybody: the stand-in models did not run"


# The last commit with the V1 nodes: its nodes run beside the V3 ones on the same core and inputs.
V1_COMMIT = "feddd825980cb8f75d7ec568f9f5f4957cb49ff8"


def _previous_version(tmp_path_factory):
    try:
        subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{V1_COMMIT}^{{commit}}"], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = tmp_path_factory.mktemp("dwpose_v1")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", V1_COMMIT, "__init__.py", "nodes"],
                             check=True, capture_output=True).stdout
    import io
    import tarfile

    tarfile.open(fileobj=io.BytesIO(archive)).extractall(folder)
    return loader.load_pack("comfyui_dwpose_previous", root=folder)


@pytest.mark.parametrize("path", sorted(API_PROMPTS.glob("*.json")), ids=lambda p: p.stem)
def test_the_previous_version_gives_the_same_results(path, ours, models, tmp_path_factory):
    """Each example workflow's DWPose nodes, run by the last V1 version (from git history) and by the V3
    nodes, on the same core, models and inputs: every output and every preview is the same."""
    previous = _previous_version(tmp_path_factory)
    if previous is None:
        pytest.skip("git history with the V1 nodes is not available (a source archive)")
    prompt = json.loads(path.read_text(encoding="utf-8"))
    before = prompt_runner.fingerprint(prompt_runner.run_prompt(prompt, previous.NODE_CLASS_MAPPINGS,
                                                                prompt_runner.v1_call), prompt)
    after = prompt_runner.fingerprint(prompt_runner.run_prompt(prompt, ours, v3_call), prompt)
    assert after == before
