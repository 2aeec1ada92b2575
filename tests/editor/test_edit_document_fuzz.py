"""The edit document's reader against malformed documents (issue 24): a value of the wrong type
anywhere gives one EditError that names the field, never a bare ValueError / TypeError."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dwpose_core.editor.document import EditError, parse_edits

N = 133
GOOD_BASE = [[float(i), float(i + 1)] for i in range(N)]


def _doc(pts=None, base=None, edit=None):
    doc = {"version": 1, "added": {}, "keys": {}}
    if base is not None:
        doc["added"]["a0"] = {"base": base}
    if pts is not None or edit is not None:
        doc["keys"]["3"] = {"i0": dict(edit or {}, **({"pts": pts} if pts is not None else {}))}
    return doc


@pytest.mark.parametrize("doc, field", [
    (_doc(pts={"5": {"d": "ab"}}), "keys.3.i0.pts.5.d"),
    (_doc(pts={"5": {"p": "ab"}}), "keys.3.i0.pts.5.p"),
    (_doc(pts={"5": {"d": [1, [2]]}}), "keys.3.i0.pts.5.d"),
    (_doc(pts={"5": {"d": {"x": 1}}}), "keys.3.i0.pts.5.d"),
    (_doc(pts={"5": {"d": [True, False]}}), "keys.3.i0.pts.5.d"),
    (_doc(pts={"5": {"d": ["1", "2"]}}), "keys.3.i0.pts.5.d"),
    (_doc(pts={"5": {"off": "yes"}}), "keys.3.i0.pts.5.off"),
    (_doc(pts={"5": [1, 2]}), "keys.3.i0.pts.5"),
    (_doc(pts={"5": 7}), "keys.3.i0.pts.5"),
    (_doc(base=[["a", 1]] + GOOD_BASE[1:]), "added.a0.base"),
    (_doc(base=[[None, 1]] + GOOD_BASE[1:]), "added.a0.base"),
    (_doc(base=[[{}, 1]] + GOOD_BASE[1:]), "added.a0.base"),
    (_doc(base=[[True, 1]] + GOOD_BASE[1:]), "added.a0.base"),
    (_doc(base=[[float("inf"), 1]] + GOOD_BASE[1:]), "added.a0.base"),
    (_doc(base=[1, 2]), "added.a0.base"),
    (_doc(base="ab"), "added.a0.base"),
    (_doc(edit={"del": "1"}), "keys.3.i0.del"),
    (_doc(edit={"lr": [1]}), "keys.3.i0.lr"),
    ({"added": {"a0": 5}}, "added.a0"),
    ({"added": [1]}, "added"),
    ({"keys": [1]}, "keys"),
    ({"keys": {"3": []}}, "keys.3"),
    ([1, 2], "edits"),
])
def test_a_wrong_type_is_an_edit_error_naming_the_field(doc, field):
    for value in (doc, json.dumps(doc)):
        with pytest.raises(EditError) as info:
            parse_edits(value)
        assert field in str(info.value)


def test_a_good_document_still_reads():
    doc = _doc(pts={"5": {"d": [1, -2.5]}, "6": {"p": [3, 4]}, "7": {"off": 1}}, base=GOOD_BASE,
               edit={"del": 0, "lr": 2})
    out = parse_edits(json.dumps(doc))
    assert out["keys"]["3"]["i0"] == {"del": 0, "lr": 2, "pts": {"5": {"d": [1.0, -2.5]}, "6": {"p": [3.0, 4.0]},
                                                                  "7": {"off": 1}}}
    assert out["added"]["a0"]["base"] == GOOD_BASE


# Anything JSON can hold, at every place of the document's shape.
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                     st.text(max_size=4))
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                     max_leaves=8)
_xy = st.one_of(_json, st.lists(_scalars, min_size=2, max_size=2))
_state = st.one_of(_json, st.fixed_dictionaries({}, optional={"d": _xy, "p": _xy, "off": _json}))
_edit = st.one_of(_json, st.fixed_dictionaries({}, optional={
    "del": _json, "lr": _json, "pts": st.one_of(_json, st.dictionaries(
        st.one_of(st.integers(0, 140).map(str), st.text(max_size=3)), _state, max_size=3))}))
_keys = st.one_of(_json, st.dictionaries(st.one_of(st.integers(0, 9).map(str), st.text(max_size=2)),
                                         st.one_of(_json, st.dictionaries(st.text(max_size=2), _edit, max_size=2)),
                                         max_size=2))
_base = st.one_of(_json, st.just(GOOD_BASE), st.lists(st.lists(_scalars, min_size=2, max_size=2),
                                                      min_size=N, max_size=N))
_added = st.one_of(_json, st.dictionaries(st.text(max_size=2), st.one_of(
    _json, st.fixed_dictionaries({"base": _base})), max_size=2))
_documents = st.one_of(_json, st.fixed_dictionaries({}, optional={"version": _json, "added": _added, "keys": _keys}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_document_reads_or_is_one_edit_error(doc):
    try:
        text = json.dumps(doc)
    except (ValueError, TypeError):
        return
    for value in (doc, text):
        try:
            out = parse_edits(value)
        except EditError as exc:
            assert str(exc).strip() and "\n" not in str(exc).strip()
            continue
        assert parse_edits(json.dumps(out)) == out  # what it reads, it can read back


def test_a_key_holding_a_newline_never_splits_the_message():
    import pytest

    from dwpose_core.editor.document import EditError, parse_edits

    for doc in ('{"added": {"a\\nb": {"base": 1}}}', '{"keys": {"1\\n": {}}}', '{"keys": {"1": {"p\\rq": 5}}}'):
        with pytest.raises(EditError) as err:
            parse_edits(doc)
        assert "\n" not in str(err.value) and "\r" not in str(err.value), str(err.value)
