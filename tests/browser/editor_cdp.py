"""A small driver for headless Chromium over the Chrome DevTools protocol (websockets), and a
127.0.0.1 server for the editor's test harness (the pack's web/ folder, stand-ins for
ComfyUI's scripts/app.js and scripts/api.js, and /api/view over a temp folder).

Needs: a Chromium binary (Debian: ``apt-get install chromium``) and ``pip install websockets``.
"""
from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

STUB_APP = """export const app = {
  extensions: [],
  registerExtension(ext) { this.extensions.push(ext); },
  graph: { setDirtyCanvas() {} },
  extensionManager: { toast: { messages: [], add(message) { this.messages.push(message); } } },
};
"""
STUB_API = 'export const api = { apiURL: (route) => "/api" + route };\n'


def find_chromium() -> Optional[str]:
    env = os.environ.get("DWPOSE_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def missing_requirements() -> Optional[str]:
    """Why the browser test cannot run here, or None."""
    if find_chromium() is None:
        return "Chromium is not installed (Debian/Ubuntu: apt-get install -y chromium; or set DWPOSE_CHROMIUM)"
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return "the Python package 'websockets' (>= 11) is not installed (pip install websockets)"
    return None


class HarnessServer:
    """Serves /harness.html, /extensions/dwpose/* (web/), /scripts/{app,api}.js, /api/view."""

    TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".json": "application/json",
             ".jpg": "image/jpeg", ".png": "image/png"}

    def __init__(self, temp_dir: Path):
        self.temp_dir = Path(temp_dir)
        self.requests: list[tuple[str, int]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                status, body, kind = server.resolve(url.path, urllib.parse.parse_qs(url.query))
                server.requests.append((self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def resolve(self, path: str, query: dict) -> tuple[int, bytes, str]:
        if path == "/harness.html":
            return 200, (HERE / "harness.html").read_bytes(), "text/html"
        if path == "/scripts/app.js":
            return 200, STUB_APP.encode(), "text/javascript"
        if path == "/scripts/api.js":
            return 200, STUB_API.encode(), "text/javascript"
        if path == "/api/view":
            name = query.get("filename", [""])[0]
            sub = query.get("subfolder", [""])[0]
            file = (self.temp_dir / sub / name).resolve()
            if self.temp_dir.resolve() in file.parents and file.is_file():
                return 200, file.read_bytes(), self.TYPES.get(file.suffix, "application/octet-stream")
            return 404, b"not found", "text/plain"
        if path.startswith("/extensions/dwpose/"):
            web = (ROOT / "web").resolve()
            file = (web / path[len("/extensions/dwpose/"):]).resolve()
            if web in file.parents and file.is_file():
                return 200, file.read_bytes(), self.TYPES.get(file.suffix, "application/octet-stream")
        return 404, b"not found", "text/plain"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """Headless Chromium with one page, driven over one DevTools websocket (flat sessions)."""

    def __init__(self, width: int = 1400, height: int = 900):
        from websockets.sync.client import connect

        self.profile = tempfile.mkdtemp(prefix="dwpose-chromium-")
        args = [find_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--remote-debugging-port=0", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
                "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start (no DevToolsActivePort)")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024, open_timeout=30).__enter__()
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.page(f"{domain}.enable")
        self.page("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method: str, params: Optional[dict] = None, session: Optional[str] = None,
             timeout: float = 60) -> dict:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.time() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.time())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method: str, params: Optional[dict] = None, timeout: float = 60) -> dict:
        return self.call(method, params, self.session, timeout)

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        result = self.page("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {expression}")

    def navigate(self, url: str) -> None:
        self.page("Page.navigate", {"url": url})

    # ---------------------------------------------------------------- input
    def mouse(self, kind: str, x: float, y: float, buttons: int = 0, button: str = "none") -> None:
        self.page("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": button,
                                               "buttons": buttons, "clickCount": 1 if kind != "mouseMoved" else 0})

    def drag(self, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
        self.mouse("mouseMoved", *start)
        self.mouse("mousePressed", *start, buttons=1, button="left")
        for i in range(1, steps + 1):
            t = i / steps
            self.mouse("mouseMoved", start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t,
                       buttons=1, button="left")
        self.mouse("mouseReleased", *end, buttons=0, button="left")

    def click(self, x: float, y: float) -> None:
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, buttons=1, button="left")
        self.mouse("mouseReleased", x, y, button="left")

    KEYS = {"ArrowLeft": 37, "ArrowRight": 39, "Home": 36, "End": 35, "Enter": 13, "Escape": 27, "Delete": 46,
            "Tab": 9}

    def key(self, key: str, shift: bool = False, ctrl: bool = False) -> None:
        modifiers = (8 if shift else 0) | (2 if ctrl else 0)
        code = self.KEYS.get(key, ord(key.upper()) if len(key) == 1 else 0)
        params = {"key": key, "windowsVirtualKeyCode": code, "modifiers": modifiers,
                  "code": key if len(key) > 1 else f"Key{key.upper()}"}
        self.page("Input.dispatchKeyEvent", {"type": "keyDown", **params,
                                             **({"text": key} if len(key) == 1 and not ctrl else {})})
        self.page("Input.dispatchKeyEvent", {"type": "keyUp", **params})

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.page("Page.captureScreenshot", {"format": "png"})["data"]
        Path(path).write_bytes(base64.b64decode(data))

    # ---------------------------------------------------------------- console
    def console_errors(self) -> list[str]:
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                errors.append(params["entry"].get("text", ""))
        return errors

    def close(self) -> None:
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
