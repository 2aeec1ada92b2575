"""What each node declares to ComfyUI's frontend, in one comparable shape, and the snapshot of it.

The shape is what ``/object_info`` serves for a node (the frontend builds sockets and widgets from
it, and a saved workflow's widget values line up with it by position): inputs per section in
order, with their options; outputs, their names and tooltips; name, display name, category,
description, output-node flags. V1 classes (``INPUT_TYPES`` ...) are read the way ComfyUI's
server reads them; V3 classes through ``GET_NODE_INFO_V1``, the call ComfyUI's server makes for
them. :func:`normalise` then removes what differs in spelling only (see its docstring).

Run as a script to (re)write the snapshot from the nodes as they are now::

    .venv/bin/python tests/nodes/schema_snapshot.py            # writes tests/nodes/data/schema_v1.json

The committed snapshot was written from the last V1 version of the nodes (before the move to the
V3 schema) and must not be rewritten to make a test pass: it is what saved workflows were made with.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "data" / "schema_v1.json"
# Combos whose choices depend on the machine (files on disk); recorded by the function that lists them.
DYNAMIC_COMBOS = {"bbox_detector": "model_names(detector)", "pose_estimator": "model_names(pose)",
                  "json_file": "json_files()"}


def info_v1(cls, name: str, display_names: dict) -> dict:
    """A V1 class's node info, as ComfyUI's server builds it (server.py ``node_info``, V1 branch)."""
    spec = cls.INPUT_TYPES()
    return {
        "input": spec,
        "input_order": {key: list(value.keys()) for key, value in spec.items()},
        "output": list(cls.RETURN_TYPES),
        "output_is_list": list(getattr(cls, "OUTPUT_IS_LIST", [False] * len(cls.RETURN_TYPES))),
        "output_name": list(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)),
        "name": name,
        "display_name": display_names.get(name, name),
        "description": getattr(cls, "DESCRIPTION", ""),
        "category": getattr(cls, "CATEGORY", "sd"),
        "output_node": getattr(cls, "OUTPUT_NODE", False) is True,
        "has_intermediate_output": getattr(cls, "HAS_INTERMEDIATE_OUTPUT", False) is True,
        "output_tooltips": list(getattr(cls, "OUTPUT_TOOLTIPS", [None] * len(cls.RETURN_TYPES))),
    }


def info_v3(cls) -> dict:
    """A V3 class's node info, as ComfyUI's server gets it (``GET_NODE_INFO_V1``)."""
    return dict(cls.GET_NODE_INFO_V1())


def normalise(info: dict, dynamic: dict | None = None) -> dict:
    """Both spellings of the same declaration -> one shape.

    - A V1 combo ``([choices], {...})`` and a V3 one ``("COMBO", {"options": [choices], ...})`` are the
      same widget: both become ``["COMBO", {"options": [...], ...}]``.
    - Options the frontend reads as absent when false (``multiselect``, ``multiline``) are dropped
      when false.
    - A ``forceInput`` socket has no widget: its ``default`` / ``socketless`` (which core's
      ``io.BoundingBox.Input`` always fills in) do not reach a workflow and are dropped.
    - Hidden inputs are kept as the set of their kinds, minus PROMPT / EXTRA_PNGINFO that V3 adds to
      every output node by itself (hidden inputs never appear in a saved workflow).
    - Choices of the combos in ``DYNAMIC_COMBOS`` (files on disk) are checked against ``dynamic``
      (name -> the list the pack's function gives now) and replaced by the function's name.
    Keys that are not part of the declaration (python_module, price badges ...) are left out.
    """
    info = json.loads(json.dumps(info))  # tuples -> lists, a private copy
    out = {key: info.get(key) for key in ("name", "display_name", "category", "description", "output",
                                          "output_name", "output_tooltips", "output_is_list",
                                          "output_node", "has_intermediate_output")}
    out["output_node"] = bool(out["output_node"])
    out["has_intermediate_output"] = bool(out["has_intermediate_output"])
    inputs, order = {}, {}
    for section in ("required", "optional"):
        declared = info["input"].get(section) or {}
        if not declared:
            continue
        order[section] = list(declared)
        inputs[section] = {}
        for name, entry in declared.items():
            kind = entry[0]
            options = copy.deepcopy(entry[1]) if len(entry) > 1 and entry[1] else {}
            if isinstance(kind, list):
                options = {"options": kind, **options}
                kind = "COMBO"
            for flag in ("multiselect", "multiline"):
                if options.get(flag) is False:
                    del options[flag]
            if options.get("forceInput"):
                options.pop("default", None)
                options.pop("socketless", None)
            if name in DYNAMIC_COMBOS and kind == "COMBO":
                if dynamic is not None and name in dynamic:
                    assert options["options"] == dynamic[name], \
                        f"{info['name']}.{name}: choices {options['options']} != {DYNAMIC_COMBOS[name]} {dynamic[name]}"
                options["options"] = DYNAMIC_COMBOS[name]
            inputs[section][name] = [kind, options]
    out["input"] = inputs
    out["input_order"] = order
    hidden = info["input"].get("hidden") or {}
    kinds = {(v[0] if isinstance(v, list) else v) for v in hidden.values()}
    out["hidden"] = sorted(kinds - {"PROMPT", "EXTRA_PNGINFO"})
    return out


def dynamic_choices(pack_name: str) -> dict:
    """The dynamic combos' choices as the loaded pack's own functions list them now."""
    choices = sys.modules[f"{pack_name}.nodes.choices"]
    bridge = sys.modules[f"{pack_name}.nodes.comfy_bridge"]
    json_nodes = sys.modules[f"{pack_name}.nodes.json_nodes"]
    return {"bbox_detector": choices.model_names("detector", bridge.folder_files()),
            "pose_estimator": choices.model_names("pose", bridge.folder_files()),
            "json_file": json_nodes.json_files()}


def write_snapshot_from_v1(path: Path = SNAPSHOT) -> dict:
    """Load the pack with the stand-ins in a fresh ComfyUI tree and write its V1 declarations."""
    import importlib.util
    import tempfile

    spec = importlib.util.spec_from_file_location("comfy_stub_loader", HERE.parent / "comfy_stubs" / "loader.py")
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    pack, _root = loader.pack_for_tests(Path(tempfile.mkdtemp(prefix="dwpose_schema_")))
    dynamic = dynamic_choices(loader.PACK_NAME)
    snapshot = {name: normalise(info_v1(cls, name, pack.NODE_DISPLAY_NAME_MAPPINGS), dynamic)
                for name, cls in pack.NODE_CLASS_MAPPINGS.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return snapshot


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    written = write_snapshot_from_v1()
    print(f"wrote {SNAPSHOT} ({len(written)} nodes)")
