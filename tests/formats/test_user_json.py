"""Every JSON document a user hands the pack (pose files, edit documents) goes through the one bounded
reader: hostile input gives one FormatError naming the field, never RecursionError, AttributeError
or OverflowError."""
import pytest

from dwpose_core.editor.document import parse_edits
from dwpose_core.formats.json_text import FormatError, read_document
from dwpose_core.formats.pose_json import from_pose_keypoint

HUGE = "1" + "0" * 400  # 10**400
DEEP = "[" * 100_000 + "]" * 100_000

EDITS = [
    (DEEP, "nests deeper"),
    ('{"added": [1]}', "added is a list; expected an object"),
    ('{"keys": {"\u00b2": {"1": {"del": 1}}}}', "keys.\u00b2 is not a whole number"),
    ('{"keys": {"0": {"1": {"pts": {"3": {"d": [%s, 1]}}}}}}' % HUGE, r"keys.0.1.pts.3.d\[0\] is an integer of 401 digits"),
    ('{"keys": {"0": {"1": {"pts": [1]}}}}', "keys.0.1.pts is a list; expected an object"),
    ('{"added": {"a": {"base": 5}}}', "added.a.base is 5; expected an array"),
]


@pytest.mark.parametrize("text,message", EDITS)
def test_hostile_edit_documents_name_the_field(text, message):
    with pytest.raises(FormatError, match=message):  # EditError is the editor's FormatError
        read_document(text, "edits", shape={"added": {"*": {"base": list}}, "keys": {"#": {"*": {"pts": {"#": dict}}}}},
                      max_depth=8)
    with pytest.raises(ValueError, match=message) as info:
        parse_edits(text)
    assert type(info.value).__name__ == "EditError"


def test_a_well_formed_edit_document_is_read_unchanged():
    doc = parse_edits('{"keys": {"0": {"1": {"del": 1, "pts": {"3": {"d": [1, 2]}}}}}}')
    assert doc["keys"] == {"0": {"1": {"del": 1, "pts": {"3": {"d": [1.0, 2.0]}}}}}


@pytest.mark.parametrize("text,message", [
    (DEEP, "nests deeper"),
    ('[{"canvas_width": %s, "canvas_height": 10, "people": []}]' % HUGE, "canvas_width is an integer of 401 digits"),
    ('[{"canvas_width": 10, "canvas_height": 10, "people": {"a": 1}}]', "people"),
])
def test_hostile_pose_files_name_the_field(text, message):
    with pytest.raises(FormatError, match=message):
        from_pose_keypoint(text)


def test_the_walk_itself_never_recurses():
    nested = "[" * 900 + "]" * 900  # parses (under the interpreter's limit), then refused by depth
    with pytest.raises(FormatError, match="deeper than 8 levels"):
        read_document(nested, "x", max_depth=8)
    assert read_document(nested, "x", max_depth=1000) is not None
