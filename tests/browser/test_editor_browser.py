"""The pose editor in a real headless Chromium: the node's real UI output is loaded through the
extension's hooks (a stand-in ComfyUI app), points are dragged with synthetic mouse events,
key-frame edits are interpolated and carried over a range, and the edits that come back are
checked numerically — and against dwpose_core.editor.apply applying the same document.

Skips unless Chromium and the `websockets` package are installed (see editor_cdp.py)."""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from editor_cdp import Browser, HarnessServer, missing_requirements  # noqa: E402

REASON = missing_requirements()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"browser test skipped: {REASON}")

ROOT = Path(__file__).resolve().parents[2]
W, H = 480, 360
ELBOW, KNEE = 7, 13
STEP = 4.0  # track 5 walks 4 px right per frame


def _loader():
    spec = importlib.util.spec_from_file_location("comfy_stub_loader", ROOT / "tests" / "comfy_stubs" / "loader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    loader = _loader()
    pack, _ = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    return pack


def standing(cx, cy, height, track_id):
    from dwpose_core.editor.tables import default_pose
    from dwpose_core.types import Person

    kp = np.asarray(default_pose(), np.float64) * height + [cx, cy]
    return Person(kp, np.full(133, 0.9), [cx - height / 4, cy - height / 2, cx + height / 4, cy + height / 2],
                  0.9, track_id)


def a_clip(n, walk=lambda f: STEP * f):
    from dwpose_core.formats.pose_json import to_pose_keypoint
    from dwpose_core.types import FramePose

    return to_pose_keypoint([FramePose(W, H, [standing(150 + walk(f), 180, 280, 5), standing(340, 190, 240, 8)])
                             for f in range(n)])


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


def open_editor(browser, pack, pk, image=None):
    import folder_paths

    ui = _loader().run(_loader().node_classes(pack)["DWPoseEditor"], pk, edits="", image=image, unique_id="3")["ui"]
    server = HarnessServer(Path(folder_paths.get_temp_directory()))
    browser.events.clear()
    browser.navigate(server.url + "/harness.html")
    browser.wait_for("window.harness && window.harness.ready")
    browser.evaluate(f"harness.node.onExecuted({json.dumps(ui)}); harness.button('Open pose editor').callback(); 1")
    browser.wait_for("globalThis.__dwposeEditor && __dwposeEditor.canvas.width > 1")
    browser.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return server


def screen_of(browser, pid, j):
    return browser.evaluate(f"""(() => {{
        const e = __dwposeEditor, r = e.canvas.getBoundingClientRect(), p = e.clip.person({pid!r}, e.frame);
        const [x, y] = e.view.toScreen(p.kp[{2 * j}], p.kp[{2 * j + 1}]);
        return [Math.round(r.left + x), Math.round(r.top + y), e.view.scale, x - Math.round(x), y - Math.round(y)];
    }})()""")


def js_view(browser):
    """Every frame as the editor shows it: [[id, [x, y] x133, [score] x133], ...] per frame."""
    return browser.evaluate("""(() => {
        const c = __dwposeEditor.clip;
        return c.frames.map((_, f) => c.view(f).map((p) => [p.id, Array.from(p.kp), Array.from(p.sc)]));
    })()""")


def assert_same_as_python(view, pk, edits):
    """The editor's frames equal dwpose_core.editor.apply applying the same document to the same input."""
    from dwpose_core.editor.apply import apply_edits
    from dwpose_core.formats.pose_json import from_pose_keypoint

    frames = apply_edits(from_pose_keypoint(pk), edits)
    assert len(view) == len(frames)
    top = max(p["track_id"] for f in pk for p in f["people"])
    for f, (shown, frame) in enumerate(zip(view, frames)):
        # shown ids: t<track> for detected people, a<n> for added ones (track = the clip's last + n)
        tracks = [int(pid[1:]) if pid[0] == "t" else top + int(pid[1:]) for pid, _, _ in shown]
        assert tracks == [p.track_id for p in frame.people], f"frame {f}: people differ"
        for (pid, kp, sc), person in zip(shown, frame.people):
            present = np.asarray(sc) >= 0.3
            assert (present == (person.scores >= 0.3)).all(), f"frame {f} {pid}: presence differs"
            np.testing.assert_allclose(np.asarray(kp).reshape(133, 2)[present], person.keypoints[present],
                                       atol=0.02, err_msg=f"frame {f} {pid}")


def test_drag_interpolate_apply_to_range_and_read_back(browser, pack):
    pk = a_clip(11)
    server = open_editor(browser, pack, pk)
    try:
        base = np.asarray(pk[0]["people"][0]["wholebody_keypoints_2d"]).reshape(133, 3)[:, :2]
        # frame 0: drag track 5's left elbow by (+40, +24) screen px
        x, y, scale, fx, fy = screen_of(browser, "t5", ELBOW)
        browser.drag((x, y), (x + 40, y + 24))
        doc = json.loads(browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)"))
        d0 = np.asarray(doc["keys"]["0"]["t5"]["pts"][str(ELBOW)]["d"])
        np.testing.assert_allclose(d0, np.array([40, 24]) / scale, atol=1e-6)
        # last frame: drag it by (-30, +12)
        browser.key("End")
        assert browser.evaluate("__dwposeEditor.frame") == 10
        x, y, scale, _, _ = screen_of(browser, "t5", ELBOW)
        browser.drag((x, y), (x - 30, y + 12))
        doc = json.loads(browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)"))
        d10 = np.asarray(doc["keys"]["10"]["t5"]["pts"][str(ELBOW)]["d"])
        np.testing.assert_allclose(d10, np.array([-30, 12]) / scale, atol=1e-6)
        assert sorted(map(int, doc["keys"])) == [0, 10]
        # every frame between: the detected point (walking 4 px a frame) plus the interpolated change
        view = js_view(browser)
        for f in range(11):
            t5 = next(p for p in view[f] if p[0] == "t5")
            expected = base[ELBOW] + [STEP * f, 0] + (1 - f / 10) * d0 + (f / 10) * d10
            np.testing.assert_allclose(t5[1][2 * ELBOW: 2 * ELBOW + 2], expected, atol=0.01)
        assert_same_as_python(view, pk, doc)

        # frame 4 (interpolated) carried over frames 3..6 with the range inputs and the R key
        browser.key("Home")
        for _ in range(4):
            browser.key("ArrowRight")
        assert browser.evaluate("__dwposeEditor.frame") == 4
        d4 = 0.6 * d0 + 0.4 * d10
        browser.evaluate("""(() => { const t = __dwposeEditor.timeline; t.from.value = '3'; t.to.value = '6';
                                     t.from.dispatchEvent(new Event('input')); return 1; })()""")
        browser.key("r")
        doc = json.loads(browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)"))
        assert sorted(map(int, doc["keys"])) == [0, 3, 6, 10]
        view = js_view(browser)
        for f in range(11):
            t5 = next(p for p in view[f] if p[0] == "t5")
            change = np.asarray(t5[1][2 * ELBOW: 2 * ELBOW + 2]) - base[ELBOW] - [STEP * f, 0]
            expected = {0: d0, 1: d0 + (d4 - d0) / 3, 2: d0 + 2 * (d4 - d0) / 3, 7: d4 + (d10 - d4) / 4,
                        8: d4 + 2 * (d10 - d4) / 4, 9: d4 + 3 * (d10 - d4) / 4, 10: d10}.get(f, d4)
            np.testing.assert_allclose(change, expected, atol=0.01, err_msg=f"frame {f}")

        # frame 4: mirror track 8 (click selects it), mark track 5's knee missing, add a person
        x, y, *_ = screen_of(browser, "t8", 0)
        browser.click(x, y)
        browser.key("M", shift=True)
        x, y, *_ = screen_of(browser, "t5", KNEE)
        browser.click(x, y)
        browser.key("h")
        knee = f"__dwposeEditor.clip.person('t5', 4).sc[{KNEE}]"
        assert browser.evaluate(knee) == 0
        browser.key("z", ctrl=True)
        assert browser.evaluate(knee) == pytest.approx(0.9)
        browser.key("y", ctrl=True)
        assert browser.evaluate(knee) == 0
        browser.key("a")
        rect = browser.evaluate("(() => { const e = __dwposeEditor, r = e.canvas.getBoundingClientRect(); "
                                "const [x, y] = e.view.toScreen(400, 200); return [r.left + x, r.top + y]; })()")
        browser.click(round(rect[0]), round(rect[1]))
        doc = json.loads(browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)"))
        assert doc["keys"]["4"]["t8"]["lr"] == 2 and doc["keys"]["4"]["t5"]["pts"][str(KNEE)] == {"off": 1}
        from dwpose_core.editor.tables import default_pose

        added, template = np.asarray(doc["added"]["a1"]["base"]), np.asarray(default_pose())
        height = (added[16, 1] - added[0, 1]) / (template[16, 1] - template[0, 1])
        assert height == pytest.approx(280 / 2 + 240 / 2, rel=0.02)  # the people's mean height
        np.testing.assert_allclose(added - template * height, np.tile([400, 200], (133, 1)),
                                   atol=0.5 / scale + 0.01)  # where clicked
        assert [len(v) for v in js_view(browser)] == [2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2]
        view = js_view(browser)
        assert_same_as_python(view, pk, doc)

        # Enter closes the dialog and writes the edits into the widget; the node re-applies them
        browser.key("Enter")
        assert browser.evaluate("globalThis.__dwposeEditor") is None
        text = browser.evaluate("harness.node.widgets[0].value")
        assert json.loads(text) == doc and browser.evaluate("harness.node.changes") == 1
        out = _loader().run(_loader().node_classes(pack)["DWPoseEditor"], pk, edits=text, unique_id="3")["result"][0]
        for f in range(11):
            shown = view[f]
            assert len(out[f]["people"]) == len(shown)
            for person, (pid, kp, sc) in zip(out[f]["people"], shown):
                wb = np.asarray(person["wholebody_keypoints_2d"]).reshape(133, 3)
                present = np.asarray(sc) >= 0.3
                np.testing.assert_allclose(wb[present, :2], np.asarray(kp).reshape(133, 2)[present], atol=0.02)
        assert browser.console_errors() == []
        assert all(status == 200 for _, status in server.requests), server.requests
    finally:
        server.close()


def test_a_300_frame_clip_stays_responsive_without_per_frame_dom_nodes(browser, pack):
    import torch

    pk = a_clip(300, walk=lambda f: 20 * np.sin(f / 10))
    server = open_editor(browser, pack, pk, image=torch.rand((300, 90, 120, 3)))
    try:
        nodes = browser.evaluate("__dwposeEditor.root.querySelectorAll('*').length")
        assert nodes < 200
        ms = browser.evaluate("""(() => { const e = __dwposeEditor, t0 = performance.now();
            for (let f = 0; f < 300; f++) { e.setFrame(f); e.paint(); }
            return performance.now() - t0; })()""")
        assert ms < 6000, f"stepping through 300 frames took {ms:.0f} ms"
        x, y, *_ = screen_of(browser, "t5", ELBOW)
        t0 = time.time()
        browser.drag((x, y), (x + 20, y))
        assert time.time() - t0 < 5
        assert browser.evaluate("Object.keys(__dwposeEditor.clip.doc.keys)") == ["299"]
        browser.wait_for("__dwposeEditor.backdrop(299) !== null")  # the frame's backdrop was loaded
        assert browser.console_errors() == []
        browser.key("Escape")
    finally:
        server.close()


def test_a_reloaded_workflow_reopens_the_editor_from_the_node_properties(browser, pack):
    """ComfyUI re-sends UI data only for output nodes: after a page reload the editor node gets no
    onExecuted, so it opens from the file references its last run left in node.properties (saved
    with the workflow), and says in one line to queue the workflow when the files are gone."""
    import folder_paths
    import torch

    pk = a_clip(3)
    ui = _loader().run(_loader().node_classes(pack)["DWPoseEditor"], pk, edits="", image=torch.rand((3, 90, 120, 3)),
                                                          unique_id="9")["ui"]
    server = HarnessServer(Path(folder_paths.get_temp_directory()))
    try:
        browser.events.clear()
        browser.navigate(server.url + "/harness.html")
        browser.wait_for("window.harness && window.harness.ready")
        browser.evaluate(f"harness.node.onExecuted({json.dumps(ui)}); 1")
        record = browser.evaluate("harness.node.properties.dwpose_editor_last_run")
        # only file references travel with the workflow: no poses, no skeleton tables
        data = ui["dwpose_editor"][0]
        assert record["poses"] == data["poses"] and record["tables"] == data["tables_file"]
        assert record["backdrops"]["count"] == 3 and len(json.dumps(record)) < 600
        assert browser.evaluate("harness.node.properties['Node name for S&R']") == "DWPoseEditor"

        # the page reloads: a node restored with those properties and its edits, and no onExecuted
        edits = {"version": 1, "added": {}, "keys": {"1": {"t5": {"pts": {str(ELBOW): {"d": [10, -5]}}}}}}
        properties = {"Node name for S&R": "DWPoseEditor", "dwpose_editor_last_run": record}
        browser.events.clear()
        browser.navigate(server.url + "/harness.html")
        browser.wait_for("window.harness && window.harness.ready")
        browser.evaluate(f"window.node2 = harness.restored({json.dumps(properties)}, {json.dumps(json.dumps(edits))}); "
                         "harness.button('Open pose editor', node2).callback(); 1")
        browser.wait_for("globalThis.__dwposeEditor && __dwposeEditor.canvas.width > 1")
        browser.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        assert browser.evaluate("__dwposeEditor.clip.frames.length") == 3
        assert browser.evaluate("__dwposeEditor.tables.threshold") == 0.3
        assert json.loads(browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)"))["keys"] == edits["keys"]
        browser.wait_for("__dwposeEditor.backdrop(2) !== null")
        # edit and close: the restored node's widget gets the edits
        x, y, scale, _, _ = screen_of(browser, "t5", KNEE)
        browser.drag((x, y), (x + 30, y))
        browser.key("Enter")
        doc = json.loads(browser.evaluate("node2.widgets[0].value"))
        assert doc["keys"]["1"]["t5"]["pts"][str(ELBOW)] == {"d": [10, -5]}
        np.testing.assert_allclose(doc["keys"]["0"]["t5"]["pts"][str(KNEE)]["d"], [30 / scale, 0], atol=1e-6)
        assert browser.evaluate("harness.toasts.length") == 0
        assert browser.console_errors() == []
        served = [path for path, status in server.requests if status == 200]
        assert any(data["tables_file"]["filename"] in path for path in served)
        assert all(status == 200 for _, status in server.requests), server.requests

        # the server no longer has the files (ComfyUI clears its temp folder on restart): one line
        gone = json.loads(json.dumps(record))
        for ref in (gone["poses"], gone["tables"]):
            ref["filename"] = "gone_" + ref["filename"]
        browser.events.clear()
        browser.evaluate(f"window.node3 = harness.restored({json.dumps({'dwpose_editor_last_run': gone})}); "
                         "harness.button('Open pose editor', node3).callback(); 1")
        browser.wait_for("harness.toasts.length === 1")
        toast = browser.evaluate("harness.toasts[0].detail")
        assert "queue the workflow" in toast and "\n" not in toast and len(toast) < 120
        assert browser.evaluate("globalThis.__dwposeEditor") is None
        assert all("404" in e for e in browser.console_errors())  # only the browser's own log of the 404

        # never run, nothing kept: the usual hint
        browser.evaluate("window.node4 = harness.restored({}); harness.button('Open pose editor', node4).callback(); 1")
        browser.wait_for("harness.toasts.length === 2")
        assert browser.evaluate("harness.toasts[1].detail").startswith("Run the workflow once")
        assert browser.evaluate("globalThis.__dwposeEditor") is None
    finally:
        server.close()


def test_undo_keys_stay_in_the_editor_and_done_finds_the_node_after_a_reload(browser, pack):
    """On the V3 node's real output: drag a point, Ctrl+Z / Ctrl+Y (the editor's own undo / redo, never
    ComfyUI's workflow undo), the workflow reloaded anyway while the dialog is open, then Done: the
    edits land in the node the graph has now, and the next run of the node applies them."""
    pk = a_clip(3)
    ui = _loader().run(_loader().node_classes(pack)["DWPoseEditor"], pk, edits="", unique_id="7")["ui"]
    import folder_paths

    server = HarnessServer(Path(folder_paths.get_temp_directory()))
    try:
        browser.events.clear()
        browser.navigate(server.url + "/harness.html")
        browser.wait_for("window.harness && window.harness.ready")
        browser.evaluate(f"harness.useGraph(7); harness.node.onExecuted({json.dumps(ui)}); "
                         "harness.button('Open pose editor').callback(); 1")
        browser.wait_for("globalThis.__dwposeEditor && __dwposeEditor.canvas.width > 1")
        browser.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        x, y, scale, _, _ = screen_of(browser, "t5", ELBOW)
        browser.drag((x, y), (x + 40, y + 24))
        dragged = browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)")
        browser.key("z", ctrl=True)
        assert json.loads(browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)"))["keys"] == {}
        browser.key("y", ctrl=True)
        assert browser.evaluate("JSON.stringify(__dwposeEditor.clip.doc)") == dragged
        browser.key("z", ctrl=True, shift=True)  # redo at the end of history: nothing changes
        # with a text field of the dialog focused (its own native editing), too
        browser.evaluate("const f = document.createElement('input'); f.id = 'probe'; __dwposeEditor.root.append(f); "
                         "f.focus(); document.activeElement === f")
        browser.key("z", ctrl=True)
        browser.key("y", ctrl=True)
        assert browser.evaluate("harness.graph.undos") == 0, "an editor key reached ComfyUI's workflow undo"
        browser.evaluate("document.getElementById('probe').remove(); __dwposeEditor.canvas.focus(); 1")

        browser.evaluate("harness.reload(); 1")  # the workflow reloaded while the dialog was open
        assert browser.evaluate("harness.live() !== harness.node")
        browser.evaluate("[...document.querySelectorAll('button')].find((b) => b.textContent === 'Done').click(); 1")
        assert browser.evaluate("globalThis.__dwposeEditor") is None
        text = browser.evaluate("harness.live().widgets[0].value")
        assert json.loads(text) == json.loads(dragged)
        assert browser.evaluate("harness.node.widgets[0].value") == ""  # not the detached one
        assert browser.evaluate("harness.toasts.length") == 0

        out = _loader().run(_loader().node_classes(pack)["DWPoseEditor"], pk, edits=text, unique_id="7")["result"][0]
        before = np.asarray(pk[0]["people"][0]["wholebody_keypoints_2d"]).reshape(133, 3)
        after = np.asarray(out[0]["people"][0]["wholebody_keypoints_2d"]).reshape(133, 3)
        np.testing.assert_allclose(after[ELBOW, :2] - before[ELBOW, :2], np.array([40, 24]) / scale, atol=0.02)
        np.testing.assert_allclose(np.delete(after, ELBOW, 0), np.delete(before, ELBOW, 0), atol=1e-3)

        # the node removed while the dialog was open: Done says so instead of losing the edits silently
        browser.evaluate("harness.button('Open pose editor', harness.live()).callback(); 1")
        browser.wait_for("globalThis.__dwposeEditor && __dwposeEditor.canvas.width > 1")
        browser.evaluate("harness.graph.nodes.clear(); 1")
        browser.key("Enter")
        toasts = browser.evaluate("harness.toasts.map((t) => t.detail)")
        assert len(toasts) == 1 and "no longer in the workflow" in toasts[0]
        assert browser.console_errors() == []
    finally:
        server.close()
