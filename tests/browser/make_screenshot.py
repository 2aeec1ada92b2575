"""Make the README's editor screenshot (docs/editor.png) with the browser test's harness.

    .venv/bin/python tests/browser/make_screenshot.py [out.png]

Needs what the browser test needs (Chromium, websockets). The clip is synthetic: two people
from the editor's default pose over a drawn backdrop, one point dragged, a key frame at 0.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1]), str(HERE.parents[1] / "tests")]

import test_editor_browser as T  # noqa: E402
from editor_cdp import Browser, missing_requirements  # noqa: E402


def backdrop(n: int):
    import torch

    y = np.linspace(0, 1, T.H)[:, None, None]
    x = np.linspace(0, 1, T.W)[None, :, None]
    sky = np.array([0.36, 0.5, 0.68]) * (1 - 0.5 * y) + 0.05 * x
    floor = np.array([0.42, 0.36, 0.3]) * (0.8 + 0.2 * x)
    image = np.where(y < 0.72, sky, floor)
    image = np.broadcast_to(image, (T.H, T.W, 3))
    return torch.from_numpy(np.stack([image] * n).astype(np.float32))


def main(out: Path) -> None:
    reason = missing_requirements()
    if reason:
        raise SystemExit(reason)
    loader = T._loader()
    pack, _ = loader.pack_for_tests(Path(tempfile.mkdtemp()))
    browser = Browser(1440, 800)
    try:
        pk = T.a_clip(60, walk=lambda f: 1.5 * f)
        server = T.open_editor(browser, pack, pk, image=backdrop(60))
        x, y, *_ = T.screen_of(browser, "t5", 13)  # bend the left knee on the first and last frames
        browser.drag((x, y), (x + 45, y - 20))
        browser.key("End")
        x, y, *_ = T.screen_of(browser, "t5", 13)
        browser.drag((x, y), (x + 30, y - 30))
        for _ in range(25):
            browser.key("ArrowLeft")
        browser.wait_for("__dwposeEditor.backdrop(__dwposeEditor.frame) !== null")
        browser.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        browser.screenshot(out)
        server.close()
        print(f"wrote {out}")
    finally:
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[1] / "docs" / "editor.png")
