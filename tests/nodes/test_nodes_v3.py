"""The nodes on ComfyUI's V3 schema: registered through comfy_entrypoint only, declaring exactly what
the last V1 version declared (tests/nodes/data/schema_v1.json), with the V3 features that serve the
user: validate_inputs, fingerprint_inputs, search aliases, tooltips, core's BOUNDING_BOX type."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "tests" / "comfy_stubs"
_spec = importlib.util.spec_from_file_location("comfy_stub_loader", STUBS / "loader.py")
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import schema_snapshot  # noqa: E402

SNAPSHOT = json.loads(schema_snapshot.SNAPSHOT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pack, root = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    import folder_paths

    return {"pack": pack, "nodes": loader.node_classes(pack), "fp": folder_paths}


# Inputs added after the snapshot: only ever appended at the end of "optional" (saved workflows store
# widget values by position), never inserted or reordered.
APPENDED = {"DWPoseEstimator": ["preset", "refine_hands"], "DWPoseModelLoader": ["preset"]}


def _without_appended(info: dict, name: str) -> dict:
    added = APPENDED.get(name, [])
    if not added:
        return info
    order = info["input_order"]["optional"]
    assert order[-len(added):] == added, f"{name}: new inputs must come last, got {order}"
    info = json.loads(json.dumps(info))
    info["input_order"]["optional"] = order[:-len(added)]
    for key in added:
        del info["input"]["optional"][key]
    return info


@pytest.mark.parametrize("name", sorted(SNAPSHOT))
def test_each_node_declares_what_the_v1_node_declared(env, name):
    """ids, display names, categories, descriptions, inputs (order, types, defaults, ranges, combo values,
    tooltips), outputs (types, names, tooltips) and flags: the same as the V1 snapshot, plus only the
    inputs appended since (APPENDED), at the end."""
    dynamic = schema_snapshot.dynamic_choices(loader.PACK_NAME)
    now = schema_snapshot.normalise(schema_snapshot.info_v3(env["nodes"][name]), dynamic)
    assert _without_appended(now, name) == SNAPSHOT[name]


def test_the_appended_inputs_default_to_what_the_node_did_before(env):
    dynamic = schema_snapshot.dynamic_choices(loader.PACK_NAME)
    estimator = schema_snapshot.normalise(schema_snapshot.info_v3(env["nodes"]["DWPoseEstimator"]), dynamic)
    optional = estimator["input"]["optional"]
    assert optional["preset"][1]["default"] == "custom" and optional["refine_hands"][1]["default"] == "off"
    assert optional["preset"][1]["options"][:1] == ["custom"] and "fast" in optional["preset"][1]["options"]


def test_the_snapshot_comparison_sees_a_change():
    """normalise() keeps what matters: a reordered widget or a changed default is a difference."""
    info = json.loads(json.dumps(SNAPSHOT["DWPoseRender"]))
    v1 = {"input": {s: {n: tuple(d) for n, d in sec.items()} for s, sec in info["input"].items()},
          **{k: info[k] for k in ("name", "display_name", "category", "description", "output", "output_name",
                                  "output_tooltips", "output_is_list", "output_node", "has_intermediate_output")}}
    assert schema_snapshot.normalise(v1) == {**info, "hidden": []}
    swapped = dict(v1, input={**v1["input"], "required": dict(reversed(list(v1["input"]["required"].items())))})
    assert schema_snapshot.normalise(swapped)["input_order"] != info["input_order"]
    changed = json.loads(json.dumps(v1))
    changed["input"]["required"]["resolution"][1]["default"] = 768
    assert schema_snapshot.normalise(changed)["input"] != info["input"]


def test_every_node_is_a_v3_node_and_nothing_is_registered_the_v1_way(env):
    from comfy_api.latest import io

    pack = env["pack"]
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS") and not hasattr(pack, "NODE_DISPLAY_NAME_MAPPINGS")
    assert set(env["nodes"]) == set(SNAPSHOT)
    for name, cls in env["nodes"].items():
        assert issubclass(cls, io.ComfyNode), name
        own = vars(cls)
        for v1 in ("INPUT_TYPES", "RETURN_TYPES", "FUNCTION", "IS_CHANGED", "VALIDATE_INPUTS", "CATEGORY"):
            assert v1 not in own, f"{name} still defines {v1}"
        assert "define_schema" in own and "execute" in own


def test_every_input_and_output_has_a_tooltip_and_the_search_finds_pose_words(env):
    for name, cls in env["nodes"].items():
        schema = cls.GET_SCHEMA()
        for item in schema.inputs + schema.outputs:
            assert item.tooltip, f"{name}.{item.id} has no tooltip"
        assert {"openpose", "pose", "skeleton", "keypoints", "dwpose", "rtmw"} <= set(schema.search_aliases), name


def test_boxes_are_cores_bounding_box_and_state_is_kept_per_node_id(env):
    from comfy_api.latest import io

    estimator = env["nodes"]["DWPoseEstimator"].GET_SCHEMA()
    bboxes = next(i for i in estimator.inputs if i.id == "bboxes")
    assert isinstance(bboxes, io.BoundingBox.Input) and bboxes.force_input and bboxes.optional
    assert isinstance(estimator.outputs[2], io.BoundingBox.Output)
    crops = env["nodes"]["DWPoseFaceCrops"].GET_SCHEMA()
    assert isinstance(crops.outputs[1], io.BoundingBox.Output)
    for name in ("DWPoseEstimator", "DWPoseSmooth", "DWPoseModelLoader", "DWPoseEditor", "DWPoseRender"):
        assert io.Hidden.unique_id in env["nodes"][name].GET_SCHEMA().hidden, name


# ------------------------------------------------------------------------------ validate_inputs

@pytest.fixture
def input_dir(env):
    folder = Path(env["fp"].get_input_directory())
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "ok.json").write_text("[]", encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", ["../../x.json", "../outside.json", "sub/../../outside.json", "/etc/passwd",
                                  "sub/../../../x.json [input]"])
def test_load_json_refuses_a_name_outside_the_input_folder(env, input_dir, name):
    (input_dir.parent / "outside.json").write_text("[]", encoding="utf-8")
    load = env["nodes"]["DWPoseLoadJSON"]
    verdict = loader.validate(load, json_file=name)
    assert isinstance(verdict, str) and "input folder" in verdict
    with pytest.raises(ValueError, match="input folder"):
        loader.run(load, name)
    assert loader.validate(load, json_file="sub/ok.json") is True


def test_load_json_refuses_a_symlink_that_leads_out_of_the_input_folder(env, input_dir, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text("[]", encoding="utf-8")
    link = input_dir / "link.json"
    folder_link = input_dir / "elsewhere"
    try:
        os.symlink(secret, link)
        os.symlink(tmp_path, folder_link, target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks cannot be made here")
    try:
        load = env["nodes"]["DWPoseLoadJSON"]
        for name in ("link.json", "elsewhere/secret.json"):
            assert "input folder" in loader.validate(load, json_file=name)
        json_nodes = sys.modules[f"{loader.PACK_NAME}.nodes.json_nodes"]
        listed = json_nodes.json_files()
        assert "sub/ok.json" in listed and "link.json" not in listed and "elsewhere/secret.json" not in listed
        inside = input_dir / "inside.json"
        os.symlink(input_dir / "sub" / "ok.json", inside)  # a link that stays inside is fine
        assert loader.validate(load, json_file="inside.json") is True
        inside.unlink()
    finally:
        link.unlink()
        folder_link.unlink()


def test_save_json_refuses_a_prefix_leaving_the_output_folder(env):
    save = env["nodes"]["DWPoseSaveJSON"]
    assert "output folder" in loader.validate(save, filename_prefix="../../evil")
    assert loader.validate(save, filename_prefix="dwpose/poses") is True


@pytest.mark.parametrize("node", ["DWPoseEstimator", "DWPoseModelLoader"])
def test_a_torch_checkpoint_with_onnxruntime_is_refused_before_the_run(env, node):
    cls = env["nodes"][node]
    verdict = loader.validate(cls, bbox_detector="yolox_l.onnx", pose_estimator="dw-ll_ucoco_384.pth",
                              backend="onnxruntime")
    assert isinstance(verdict, str) and "torch" in verdict and "dw-ll_ucoco_384.pth" in verdict
    assert loader.validate(cls, bbox_detector="yolox_l.onnx", pose_estimator="dw-ll_ucoco_384.onnx",
                           backend="onnxruntime") is True
    if "torch" in cls.INPUT_TYPES()["required"]["backend"][1]["options"]:
        assert loader.validate(cls, bbox_detector="yolox_l.onnx", pose_estimator="dw-ll_ucoco_384.pth",
                               backend="torch") is True
    # validate_inputs replaces ComfyUI's list check for these inputs: it does the check itself
    assert "not in models/dwpose" in loader.validate(cls, bbox_detector="yolox_l.onnx",
                                                     pose_estimator="../../../etc/x.onnx", backend="auto")
    assert loader.validate(cls, bbox_detector=None, pose_estimator=None, backend=None) is True  # linked


# ------------------------------------------------------------------------------ start-up

def _load_in_subprocess(tmp_path, extra_path_code: str):
    code = (
        "import importlib.util, sys, logging\n"
        f"{extra_path_code}\n"
        f"spec = importlib.util.spec_from_file_location('p', {str(ROOT / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(ROOT)!r}])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['p'] = m; spec.loader.exec_module(m)\n"
        "print('entrypoint' if hasattr(m, 'comfy_entrypoint') else 'none', hasattr(m, 'NODE_CLASS_MAPPINGS'))\n"
        "print(','.join(x for x in ('torch', 'onnxruntime', 'cv2', 'comfy_api.latest', 'p.nodes') if x in sys.modules))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)


def test_an_older_comfyui_gets_one_line_and_no_crash(tmp_path):
    out = _load_in_subprocess(tmp_path, "")  # no comfy_api anywhere (the stand-ins are not on the path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "none False"
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "ComfyUI 0.33.0 or newer" in lines[0], out.stderr


def test_with_comfy_api_the_entry_point_is_there_and_loading_imports_nothing_heavy(tmp_path):
    out = _load_in_subprocess(tmp_path, f"sys.path.insert(0, {str(STUBS)!r})")
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first == "entrypoint False"
    assert second == ""  # not even the nodes: they load when ComfyUI awaits comfy_entrypoint()
    assert out.stderr.strip() == ""


# ------------------------------------------------------------------------------ ComfyUI's real comfy_api

def _comfyui_path():
    path = os.environ.get("COMFYUI_PATH")
    return Path(path) if path and (Path(path) / "comfy_api" / "latest" / "_io.py").is_file() else None


@pytest.mark.skipif(_comfyui_path() is None, reason="set COMFYUI_PATH to a ComfyUI checkout (>= 0.33.0) to run "
                                                    "the declarations against its real comfy_api")
def test_the_real_comfy_api_reads_the_same_declarations(tmp_path):
    """ComfyUI's own comfy_api (not the stand-in): the entry point loads through a ComfyExtension as
    nodes.load_custom_node does, and GET_NODE_INFO_V1 (what /object_info serves) matches the V1 snapshot."""
    code = f"""
import asyncio, importlib.util, json, sys
sys.argv = [sys.argv[0]]
sys.path.insert(0, {str(_comfyui_path())!r})
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
import folder_paths
folder_paths.set_input_directory({str(tmp_path)!r}) if hasattr(folder_paths, "set_input_directory") else None
from comfy_api.latest import ComfyExtension, io
import schema_snapshot
spec = importlib.util.spec_from_file_location("dwpose_pack", {str(ROOT / '__init__.py')!r},
                                              submodule_search_locations=[{str(ROOT)!r}])
pack = importlib.util.module_from_spec(spec); sys.modules["dwpose_pack"] = pack; spec.loader.exec_module(pack)
async def load():
    ext = await pack.comfy_entrypoint()
    assert isinstance(ext, ComfyExtension)
    await ext.on_load()
    return await ext.get_node_list()
nodes = asyncio.run(load())
dynamic = schema_snapshot.dynamic_choices("dwpose_pack")
out = {{}}
for cls in nodes:
    assert issubclass(cls, io.ComfyNode)
    out[cls.GET_SCHEMA().node_id] = schema_snapshot.normalise(cls.GET_NODE_INFO_V1(), dynamic)
print(json.dumps(out))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == SNAPSHOT
