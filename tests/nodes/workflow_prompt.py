"""A saved UI-format workflow -> the API-format prompt the frontend queues (its ``graphToPrompt``).

Widget values are stored by position; the frontend gives them names by walking the node's declared
widget inputs in order (required, then optional; a combo or INT/FLOAT/STRING/BOOLEAN input that is
not a forceInput socket). Linked inputs become ``[source node id, output slot]``. Only the
nodes in ``declared`` (type -> normalised node info, see schema_snapshot.py) get their widgets
named; other nodes keep their links only (tests stand in for them).

Run as a script to write the API-format prompts of example_workflows/ from a declaration file::

    .venv/bin/python tests/nodes/workflow_prompt.py tests/nodes/data/schema_v1.json tests/nodes/data/api_prompts
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}


def widget_names(info: dict) -> list[str]:
    names = []
    for section in ("required", "optional"):
        for name in info["input_order"].get(section, []):
            kind, options = info["input"][section][name]
            if kind in WIDGET_TYPES and not options.get("forceInput"):
                names.append(name)
    return names


def to_api_prompt(workflow: dict, declared: dict) -> dict:
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) in (2, 4):  # muted / bypassed
            continue
        inputs = {}
        info = declared.get(node["type"])
        if info is not None:
            values = node.get("widgets_values") or []
            names = widget_names(info)
            if len(values) > len(names):
                raise ValueError(f"{node['type']} #{node['id']}: {len(values)} widget values for {names}")
            inputs.update(zip(names, values))
            # A workflow saved before widgets were appended: the frontend keeps the new ones at their
            # defaults (values are read by position, so only trailing widgets can be missing).
            every = {n: d for section in info["input"].values() for n, d in section.items()}
            for name in names[len(values):]:
                inputs[name] = every[name][1].get("default")
        for inp in node.get("inputs", []):
            if inp.get("link") is not None:
                _lid, src, slot, _dst, _dslot, _type = links[inp["link"]]
                inputs[inp["name"]] = [str(src), slot]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


if __name__ == "__main__":
    declared_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    declared = json.loads(declared_path.read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "example_workflows").glob("*.json")):
        prompt = to_api_prompt(json.loads(path.read_text(encoding="utf-8")), declared)
        (out_dir / path.name).write_text(json.dumps(prompt, indent=1) + "\n", encoding="utf-8")
        print("wrote", out_dir / path.name)
