"""The frontend's pure helpers (web/dwpose_preview.js), fed with a summary the nodes really produce.
Needs Node.js; skipped without it."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

HARNESS = """
import { summaryLines, drawPreview, drawStrip, fit } from "%s";
const summary = JSON.parse(process.argv[2]);
const calls = [];
const ctx = new Proxy({}, {
  get: (t, k) => (k in t ? t[k] : (...args) => calls.push([k, ...args])),
  set: (t, k, v) => { t[k] = v; calls.push(["set", k, v]); return true; },
});
drawPreview(ctx, summary.previews[0], 200, 100);
drawStrip(ctx, summary.counts, 100, 10, 0);
console.log(JSON.stringify({ lines: summaryLines(summary), calls, fit: fit(320, 240, 200, 100) }));
"""


def run_js(summary, tmp_path):
    script = tmp_path / "harness.mjs"
    script.write_text(HARNESS % (ROOT / "web" / "dwpose_preview.js").as_uri())
    out = subprocess.run([NODE, str(script), json.dumps(summary)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def a_summary(frames_people):
    from dwpose_core.types import FramePose, Person

    def person(x):
        kp = np.tile(np.array([[x, 50.0]], np.float32), (133, 1)) + np.arange(133)[:, None] * 0.1
        scores = np.ones(133, np.float32)
        scores[91:133] = 0  # no hands
        return Person(kp, scores, [x - 10, 20, x + 10, 90], 0.9)

    frames = [FramePose(320, 240, [person(60 + 80 * i) for i in range(n)]) for n in frames_people]
    import importlib.util

    spec = importlib.util.spec_from_file_location("dwpose_summary", ROOT / "nodes" / "summary.py")
    summary = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(summary)
    return summary.summarise(frames)


def test_summary_text_counts_people_and_parts(tmp_path):
    result = run_js(a_summary([2, 0, 1]), tmp_path)
    assert result["lines"][0] == "3 frames · people 0–2 per frame · 1 without people"
    assert result["lines"][1] == "parts: body 2/3, face 2/3, feet 2/3"  # hands absent, frame 1 empty


def test_preview_draws_every_line_and_point_scaled_into_the_box(tmp_path):
    summary = a_summary([1])
    preview = summary["previews"][0]
    result = run_js(summary, tmp_path)
    fit = result["fit"]
    # 320x240 into 200x100: scale = min(200/320, 100/240), centred horizontally
    assert fit["s"] == pytest.approx(100 / 240) and fit["oy"] == pytest.approx(0)
    assert fit["ox"] == pytest.approx((200 - 320 * 100 / 240) / 2)
    strokes = [c for c in result["calls"] if c[0] == "stroke"]
    arcs = [c for c in result["calls"] if c[0] == "arc"]
    assert len(strokes) == len(preview["lines"]) and len(arcs) == len(preview["points"])
    first_move = next(c for c in result["calls"] if c[0] == "moveTo")
    x1, y1 = preview["lines"][0][:2]
    assert first_move[1:] == pytest.approx([fit["ox"] + x1 * fit["s"], fit["oy"] + y1 * fit["s"]])
