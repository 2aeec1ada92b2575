"""The example workflows: only existing node types, links between matching types, our nodes'
slots and widget values as the nodes declare them, and a thumbnail for each."""
from __future__ import annotations

import importlib.util
import json
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


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    pack, _root = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    return pack.NODE_CLASS_MAPPINGS


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


def widget_inputs(spec):
    """Names of the inputs that are widgets, in the order the frontend stores their values."""
    names = []
    for section in ("required", "optional"):
        for name, declared in spec.get(section, {}).items():
            if isinstance(declared[0], list) or declared[0] in WIDGET_TYPES:
                names.append((name, declared))
    return names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_our_nodes_match_their_declarations(path, ours):
    for node in load(path)["nodes"]:
        cls = ours.get(node["type"])
        if cls is None:
            continue
        spec = cls.INPUT_TYPES()
        assert [o["type"] for o in node["outputs"]] == list(cls.RETURN_TYPES)
        sockets = {name: d[0] for section in ("required", "optional") for name, d in spec.get(section, {}).items()}
        for inp in node["inputs"]:
            assert sockets.get(inp["name"]) == inp["type"], f"{node['type']}.{inp['name']}"
        widgets = widget_inputs(spec)
        values = node.get("widgets_values", [])
        assert len(values) == len(widgets), f"{node['type']} #{node['id']}: widget values do not line up"
        for (name, declared), value in zip(widgets, values):
            kind, options = declared[0], (declared[1] if len(declared) > 1 else {})
            if isinstance(kind, list):
                if name in ("json_file",):
                    continue  # a file the user puts in the input folder
                assert value in kind, f"{node['type']}.{name} = {value!r} is not a choice"
            elif kind in ("INT", "FLOAT"):
                assert options.get("min", -np.inf) <= value <= options.get("max", np.inf), f"{name}={value}"
            elif kind == "BOOLEAN":
                assert isinstance(value, bool)
