"""The edit document of the pose editor: reading and validating it (:func:`parse_edits`) and
writing it back (:func:`dump_edits`). Its format and the rules for applying it are described in
:mod:`dwpose_core.editor.apply`.
"""
from __future__ import annotations

import json
from typing import Any, Union

import numpy as np

from .. import skeleton as sk
from ..errors import DWPoseError
from ..formats.json_text import FormatError, field_name, read_document

__all__ = ["EditError", "empty_edits", "parse_edits", "dump_edits", "key_frames"]

# Where the edit document must hold objects ("#": frame numbers / point indices in digits).
_SHAPE = {"added": {"*": {"base": list}}, "keys": {"#": {"*": {"pts": {"#": dict}}}}}


class EditError(DWPoseError, ValueError):
    """An edit document that cannot be read; the message names the field."""


def empty_edits() -> dict:
    return {"version": 1, "added": {}, "keys": {}}


def parse_edits(edits: Union[None, str, dict]) -> dict:
    """The edit document from a widget value (JSON text, '' = none) or a dict; validated."""
    if edits is None or (isinstance(edits, str) and not edits.strip()):
        return empty_edits()
    try:  # the bounded reader of user JSON (depth, huge numbers, where objects must be; names the field)
        edits = read_document(edits, "edits", shape=_SHAPE, max_depth=8)
    except FormatError as exc:
        raise EditError(str(exc)) from None
    if not isinstance(edits, dict):
        raise EditError(f"edits must be a JSON object; got {type(edits).__name__}")
    doc = empty_edits()
    for aid, added in (edits.get("added") or {}).items():
        base = added.get("base") if isinstance(added, dict) else None
        if not isinstance(base, list) or len(base) != sk.NUM_KEYPOINTS:
            raise EditError(f"added.{field_name(aid)}.base must be {sk.NUM_KEYPOINTS} [x, y] pairs")
        doc["added"][str(aid)] = {"base": [_xy(xy, f"added.{field_name(aid)}.base[{i}]") for i, xy in enumerate(base)]}
    for frame, people in (edits.get("keys") or {}).items():
        if not str(frame).isdigit() or not isinstance(people, dict):
            raise EditError(f"keys.{field_name(frame)}: expected a frame number mapping person ids to edits")
        out = {}
        for pid, edit in people.items():
            where = f"keys.{field_name(frame)}.{field_name(pid)}"
            if not isinstance(edit, dict):
                raise EditError(f"{where} must be an object")
            clean: dict[str, Any] = {}
            for name, allowed in (("del", (0, 1)), ("lr", (0, 1, 2))):
                if name in edit:
                    if not _is_number(edit[name]) or edit[name] not in allowed:
                        raise EditError(f"{where}.{name} is {edit[name]!r}; expected one of {allowed}")
                    clean[name] = int(edit[name])
            points = {}
            for j, state in (edit.get("pts") or {}).items():
                points[str(int(j))] = _point_state(state, f"{where}.pts.{j}", int(j))
            if points:
                clean["pts"] = points
            if clean:
                out[str(pid)] = clean
        if out:
            doc["keys"][str(int(frame))] = out
    return doc


def _point_state(state: Any, where: str, j: int) -> dict:
    if not 0 <= j < sk.NUM_KEYPOINTS:
        raise EditError(f"{where}: point index must be 0..{sk.NUM_KEYPOINTS - 1}")
    if isinstance(state, dict) and state.get("off") is not None:
        if not _is_number(state["off"]) or state["off"] not in (0, 1):
            raise EditError(f"{where}.off is {state['off']!r}; expected 0 or 1")
        if state["off"]:
            return {"off": 1}
    for name in ("d", "p"):
        value = state.get(name) if isinstance(state, dict) else None
        if value is not None:
            return {name: _xy(value, f"{where}.{name}")}
    raise EditError(f"{where}: expected {{'d': [dx, dy]}}, {{'p': [x, y]}} or {{'off': 1}}")


def _is_number(value: Any) -> bool:
    """A JSON number (true / false are not numbers here, nor are numeric strings)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _xy(value: Any, where: str) -> list[float]:
    """[x, y]: two finite numbers, else an EditError naming ``where``."""
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_number(v) for v in value) \
            or not all(np.isfinite(float(v)) for v in value):
        raise EditError(f"{where} must be two finite numbers [x, y]; got {_short(value)}")
    return [float(value[0]), float(value[1])]


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def dump_edits(doc: dict) -> str:
    """Compact JSON text for the widget value ('' when there is nothing)."""
    doc = parse_edits(doc)
    if not doc["keys"] and not doc["added"]:
        return ""
    return json.dumps(doc, separators=(",", ":"))


def key_frames(doc: Union[str, dict]) -> list[int]:
    return sorted(int(f) for f in parse_edits(doc)["keys"])
