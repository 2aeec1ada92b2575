"""Untrusted JSON text -> Python values, with bounded cost and errors that say where.

:func:`loads` is ``json.loads`` with three hostile cases turned into :class:`JsonTextError`
(the formats module re-raises it as its ``FormatError``) instead of ``ValueError``,
``OverflowError`` or ``RecursionError``:

- an integer too large for a float (more than 300 digits, or one that overflows a float) is
  kept as a :class:`HugeNumber` placeholder, so the reader can name the field that holds it;
  integers over Python's 4300-digit conversion limit never reach ``int()``;
- nesting too deep for the parser (Python's recursion limit, about 1000 levels) is reported
  with the path where it passes :data:`MAX_DEPTH` levels (POSE_KEYPOINT needs 5: frame list,
  frame, people, person, array). Shallower extra nesting inside a known field is caught by the
  reader's type checks, which name the field; unknown fields are never walked;
- text that is not JSON gives its line and column.

:func:`read_document` is the one entry for every JSON document a user hands the pack (edit
documents, the batch journal): the same parse, then one iterative check of depth, huge numbers
and, optionally, where objects must be, before the caller walks the value.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import DWPoseError

__all__ = ["FormatError", "HugeNumber", "MAX_DEPTH", "loads", "read_document", "is_number_type", "finite_number", "describe",
           "whole_number", "float_array"]

# POSE_KEYPOINT nests 5 levels; other tools' extra fields may add a few. Deeper is refused.
MAX_DEPTH = 32
_MAX_INT_DIGITS = 300  # every integer with at most 300 digits fits a float (max ~1.8e308)


class FormatError(DWPoseError, ValueError):
    """POSE_KEYPOINT / OpenPose JSON that cannot be read; the message names the field.

    (Defined here, re-exported by :mod:`dwpose_core.formats.pose_json`, its public home.)"""


JsonTextError = FormatError


class HugeNumber:
    """An integer of the JSON text too large for a float (kept as text; never converted)."""

    __slots__ = ("digits",)

    def __init__(self, text: str):
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"an integer of {self.digits} digits (too large for a float)"


def _parse_int(text: str) -> Any:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return HugeNumber(text)
    return int(text)


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def _deep_path(text: str, limit: int) -> str:
    """Path (``[0].people[3].x``) of the first container nested deeper than ``limit``."""
    stack: list[list] = []  # per open container: [kind, key or index]
    last_string = None
    for match in _TOKEN.finditer(text):
        tok = match.group()
        if tok in "[{":
            if len(stack) >= limit:
                break
            stack.append([tok, 0 if tok == "[" else None])
        elif tok in "]}":
            if stack:
                stack.pop()
        elif tok == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
        elif tok == ":":
            if stack and stack[-1][0] == "{":
                stack[-1][1] = last_string
        else:
            try:
                last_string = json.loads(tok)
            except ValueError:
                last_string = tok
    parts = []
    for kind, where in stack:
        parts.append(f"[{where}]" if kind == "[" else f".{where}" if where is not None else "")
    return "".join(parts) or "(top level)"


def loads(text: str, what: str = "JSON") -> Any:
    """``json.loads`` for untrusted text (see the module docstring)."""
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        path = _deep_path(text, MAX_DEPTH)
        hint = "; POSE_KEYPOINT needs 5 (frame list, frame, people, person, array)" if what == "POSE_KEYPOINT" else ""
        raise JsonTextError(f"{what} nests deeper than {MAX_DEPTH} levels at {path}{hint}") from None
    except ValueError as exc:  # anything else json or int() refuses
        raise JsonTextError(f"{what} cannot be read: {exc}") from None
    return data


def read_document(value: Any, what: str, *, shape: Optional[dict] = None, max_depth: int = MAX_DEPTH) -> Any:
    """A user's JSON document (text, bytes, or the value already parsed) checked as a whole before
    anyone walks it: nesting deeper than ``max_depth``, an integer too large for a float, and (with
    ``shape``) a field of the wrong kind each give one :class:`FormatError` that names the field.

    ``shape`` describes where objects must be: ``{"added": {"*": {"base": list}}, "keys": {"#": ...}}``
    (a dict or ``dict``: an object or null there; ``list``: an array or null; ``"*"``: any key; ``"#"``: any key,
    which must be a whole number written in ASCII digits). Fields not named are not checked here."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{what} is not UTF-8 text: {exc}") from None
    if isinstance(value, str):
        value = loads(value, what)
    # Iterative walk (a parsed value may still be ~1000 levels deep: no recursion here).
    stack: list[tuple[Any, str, int, Any]] = [(value, "", 0, shape)]
    while stack:
        item, where, depth, expected = stack.pop()
        name = where.lstrip(".") or "(top level)"
        if isinstance(item, HugeNumber):
            raise FormatError(f"{what}: {name} is {item!r}")
        if (expected is dict or isinstance(expected, dict)) and item is not None and not isinstance(item, dict):
            raise FormatError(f"{what}: {name} is {describe(item)}; expected an object")
        if expected is list and item is not None and not isinstance(item, list):
            raise FormatError(f"{what}: {name} is {describe(item)}; expected an array")
        if not isinstance(item, (dict, list)):
            continue
        if depth >= max_depth:
            raise FormatError(f"{what} nests deeper than {max_depth} levels at {name}")
        if isinstance(item, list):
            stack.extend((v, f"{where}[{k}]", depth + 1, None) for k, v in enumerate(item))
            continue
        for key, child in item.items():
            sub = None
            if isinstance(expected, dict):
                sub = expected.get(key, expected.get("*", expected.get("#")))
                if "#" in expected and key not in expected and not (key.isascii() and key.isdigit()):
                    raise FormatError(f"{what}: {name}.{field_name(key)} is not a whole number written in digits")
            stack.append((child, f"{where}.{field_name(key)}", depth + 1, sub))
    return value


# ---------------------------------------------------------------------------- values

def is_number_type(t: type) -> bool:
    return issubclass(t, (int, float, np.integer, np.floating)) and not issubclass(t, (bool, np.bool_))


def finite_number(value: Any) -> Optional[float]:
    """``value`` as a finite float, or None when it is not a finite number that fits a float."""
    if not is_number_type(type(value)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def describe(value: Any) -> str:
    return repr(value) if not isinstance(value, (list, dict)) else f"a {type(value).__name__}"


def whole_number(value: Any, where: str, what: str) -> int:
    number = finite_number(value)
    if number is None or number != int(number):
        raise FormatError(f"{where} is {describe(value)}; expected {what}")
    return int(number)


def float_array(values: Sequence, where: str) -> np.ndarray:
    """Flat list of numbers -> float64 array; the error names the first bad element."""
    if not all(is_number_type(t) for t in set(map(type, values))):
        k = next(k for k, v in enumerate(values) if not is_number_type(type(v)))
        raise FormatError(f"{where}[{k}] is {describe(values[k])}; expected a number")
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:
        array = None
    if array is None or not np.isfinite(array).all():
        k = next(k for k, v in enumerate(values) if finite_number(v) is None)
        raise FormatError(f"{where}[{k}] is {values[k]!r}; expected a finite number that fits a float")
    return array


def field_name(key) -> str:
    """A key of untrusted JSON as it may appear in a one-line message: as it is when printable, else
    quoted with its control characters escaped (a key holding a newline never splits the message)."""
    text = str(key)
    return text if text and text.isprintable() and text.strip() == text else json.dumps(text)
