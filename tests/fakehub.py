"""A Hugging Face-compatible endpoint on 127.0.0.1 for tests, plus tiny model files to serve.

It answers ``HEAD``/``GET /{repo_id}/resolve/{revision}/{file}`` as the real hub does (seen with
huggingface_hub 2.4.0): ``X-Repo-Commit``, a quoted ``ETag`` and ``X-Linked-Etag`` /
``X-Linked-Size`` (the LFS SHA-256 and size) and a 302 to a second server on another port (a
different origin, like the real CDN), which serves the bytes with ``Range`` support. Faults are
injected on that GET: corrupt bytes, a short body, a connection cut mid-body, a 500. Every request
is logged so that tests can count them.

Hostile servers for deadline tests: :func:`silent_server` (accepts, never answers),
:func:`trickle_server` (sends its status line and headers one byte at a time, forever) and
:func:`closed_port` (nothing listens).

Use the ``fake_hub`` fixture (it sets HF_ENDPOINT) or ``hub_env`` alone (an
isolated environment: temporary extension folder, HF cache, per-user cache, no proxies).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Optional
from urllib.parse import urlsplit

import numpy as np
import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Fault:
    mode: str  # "corrupt" | "short" | "cut" | "error" | "stall" (part of the body, then silence)
    #            | "delay" (answers after `pause` s) | "trickle" (the body `at` bytes, default 1, every `pause` s)
    times: Optional[int] = 1  # how many GETs it affects; None = every one
    at: Optional[int] = None  # byte offset where "cut" / "short" stop (default: half the file); trickle's step
    pause: float = 0.5  # seconds, for "delay" and "trickle"


@dataclass
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict = field(default_factory=dict)


class FakeHub:
    def __init__(self):
        self.files: dict[tuple[str, str], bytes] = {}
        self.faults: dict[str, Fault] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self.url = self.cdn_url = ""

    # ------------------------------------------------------------ set-up
    def add(self, repo_id: str, filename: str, data: bytes) -> None:
        self.files[(repo_id, filename)] = bytes(data)

    def fault(self, filename: str, mode: str, times: Optional[int] = 1, at: Optional[int] = None,
              pause: float = 0.5) -> None:
        self.faults[filename] = Fault(mode, times, at, pause)

    def start(self) -> "FakeHub":
        hub = self._serve(_HubHandler)
        cdn = self._serve(_CdnHandler)
        self.url = f"http://127.0.0.1:{hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{cdn.server_address[1]}"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def _serve(self, handler) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.hub = self
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self._servers.append(server)
        return server

    # ------------------------------------------------------------ inspection
    def file_requests(self, method: Optional[str] = None, filename: Optional[str] = None) -> list[Request]:
        """Requests for files (HEAD on the hub, GET on the CDN); telemetry/API calls are left out."""
        with self._lock:
            reqs = [r for r in self.requests if not r.path.startswith("/api/")]
        if method:
            reqs = [r for r in reqs if r.method == method]
        if filename:
            reqs = [r for r in reqs if filename in r.path]
        return reqs

    def count(self, method: Optional[str] = None, filename: Optional[str] = None) -> int:
        return len(self.file_requests(method, filename))

    def gets(self, filename: Optional[str] = None) -> list[Request]:
        return [r for r in self.file_requests("GET", filename) if r.server == "cdn"]

    # ------------------------------------------------------------ used by handlers
    def _log(self, server: str, handler) -> None:
        with self._lock:
            self.requests.append(Request(server, handler.command, handler.path,
                                         {k.lower(): v for k, v in handler.headers.items()}))

    def _lookup(self, sha: str) -> Optional[tuple[str, bytes]]:
        for (_, filename), data in self.files.items():
            if hashlib.sha256(data).hexdigest() == sha:
                return filename, data
        return None

    def _take_fault(self, filename: str) -> Optional[Fault]:
        with self._lock:
            fault = self.faults.get(filename)
            if fault is None:
                return None
            if fault.times is not None:
                if fault.times <= 0:
                    return None
                fault.times -= 1
            return dataclasses.replace(fault)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name = ""

    def log_message(self, *args):  # keep test output clean
        pass

    @property
    def hub(self) -> FakeHub:
        return self.server.hub

    def _send(self, status: int, headers: dict, body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class _HubHandler(_Handler):
    server_name = "hub"

    def do_HEAD(self):
        self.hub._log("hub", self)
        self._resolve()

    def do_GET(self):
        self.hub._log("hub", self)
        self._resolve()

    def _resolve(self):
        parts = urlsplit(self.path).path.split("/")
        # /{owner}/{repo}/resolve/{revision}/{filename...}
        if len(parts) < 6 or parts[3] != "resolve":
            self._send(404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
            return
        repo_id, filename = f"{parts[1]}/{parts[2]}", "/".join(parts[5:])
        data = self.hub.files.get((repo_id, filename))
        if data is None:
            self._send(404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                             "X-Repo-Commit": COMMIT})
            return
        sha = hashlib.sha256(data).hexdigest()
        git_oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        self._send(302, {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{git_oid}"',
            "X-Linked-Etag": f'"{sha}"',
            "X-Linked-Size": len(data),
            "Location": f"{self.hub.cdn_url}/blobs/{sha}?name={filename}",
        })


class _CdnHandler(_Handler):
    server_name = "cdn"

    def do_HEAD(self):
        self.hub._log("cdn", self)
        self._blob()

    def do_GET(self):
        self.hub._log("cdn", self)
        self._blob()

    def _blob(self):
        path = urlsplit(self.path).path
        found = self.hub._lookup(path.rsplit("/", 1)[-1]) if path.startswith("/blobs/") else None
        if found is None:
            self._send(404, {})
            return
        filename, data = found
        fault = self.hub._take_fault(filename) if self.command == "GET" else None
        if fault is not None and fault.mode == "error":
            self._send(500, {})
            return
        if fault is not None and fault.mode == "corrupt":
            data = corrupt(data)
        if fault is not None and fault.mode == "delay":
            time.sleep(fault.pause)  # a slow server: the answer comes late, then all of it
        start = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes="):
            start = int(ranged[len("bytes="):].split("-")[0])
        body = data[start:]
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        status = 200
        if start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        stop = fault.at if fault is not None and fault.at is not None else len(data) // 2
        if fault is not None and fault.mode == "short":
            # A body that ends early *and says so*: Content-Length matches what is sent.
            self._send(status, headers, data[start:max(start, stop)])
            return
        if fault is not None and fault.mode == "stall":
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(data[start:max(start, stop)])
            self.wfile.flush()
            time.sleep(30)  # the client must give up long before (daemon thread: never blocks the tests)
            return
        if fault is not None and fault.mode == "trickle":
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            step = fault.at or 1  # bytes per pause
            try:
                for i in range(0, len(body), step):  # never silent for long: a per-read timeout never fires
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    time.sleep(fault.pause)
            except OSError:
                pass
            self.close_connection = True
            return
        if fault is not None and fault.mode == "cut":
            # Promise the whole body, send part of it, drop the connection.
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(data[start:max(start, stop)])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(status, headers, body)


def corrupt(data: bytes) -> bytes:
    """Same length, some bytes in the middle changed (where a model's weights are)."""
    out = bytearray(data)
    mid = len(out) // 2
    for i in range(mid, min(mid + 64, len(out))):
        out[i] ^= 0x5A
    return bytes(out)


# ---------------------------------------------------------------- hostile servers

@contextlib.contextmanager
def _raw_server(on_connect):
    """A TCP server on 127.0.0.1 running ``on_connect(conn, stop_event)`` per connection; yields its URL."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.05)
    stop = threading.Event()
    conns: list = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (socket.timeout, OSError):
                continue
            conns.append(conn)
            threading.Thread(target=on_connect, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        srv.close()


def silent_server():
    """Accepts connections and reads the request, but never answers."""
    def hold(conn, stop):
        conn.settimeout(0.05)
        while not stop.is_set():
            try:
                if conn.recv(4096) == b"":
                    return
            except socket.timeout:
                continue
            except OSError:
                return
    return _raw_server(hold)


def trickle_server(interval: float = 0.05):
    """Answers with an endless header, one byte every ``interval`` seconds (no read timeout ever fires)."""
    def drip(conn, stop):
        message = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10**6
        try:
            for byte in message:
                if stop.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(interval)
        except OSError:
            return
    return _raw_server(drip)


def closed_port() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens (connections are refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- tiny model files

def _onnx_model(input_name: str, input_shape, outputs: dict, *, seed: int = 0, n_weights: int = 4096) -> bytes:
    """A valid graph with the given I/O: every output = mean(input) + sum(weights), broadcast to its shape.

    Most of the file is the weight initializer, so corrupting its middle keeps the
    graph parseable (only a hash can tell) while cutting it short does not.
    """
    import onnx
    from onnx import TensorProto, helper

    weights = np.random.default_rng(seed).standard_normal(n_weights).astype(np.float32)
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["m"], keepdims=0),
        helper.make_node("ReduceSum", ["w"], ["s"], keepdims=0),
        helper.make_node("Add", ["m", "s"], ["ms"]),
    ]
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [n_weights], weights.tobytes(), raw=True)]
    outs = []
    for i, (name, shape) in enumerate(outputs.items()):
        inits.append(helper.make_tensor(f"shape{i}", TensorProto.INT64, [len(shape)], list(shape)))
        nodes.append(helper.make_node("ConstantOfShape", [f"shape{i}"], [f"z{i}"],
                                      value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])))
        nodes.append(helper.make_node("Add", [f"z{i}", "ms"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT,
                                                                             list(input_shape))], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model.SerializeToString()


def make_detector(seed: int = 0, *, input_name: str = "images", input_hw=(640, 640),
                  output_shape=(1, 8400, 85)) -> bytes:
    """A YOLOX-shaped graph: images [1,3,640,640] -> output [1,8400,85]."""
    return _onnx_model(input_name, (1, 3, *input_hw), {"output": output_shape}, seed=seed)


def make_pose(h: int = 384, w: int = 288, seed: int = 1, *, outputs: Optional[dict] = None) -> bytes:
    """An RTMPose-shaped graph: input [1,3,h,w] -> simcc_x [1,133,2w], simcc_y [1,133,2h]."""
    outputs = outputs or {"simcc_x": (1, 133, 2 * w), "simcc_y": (1, 133, 2 * h)}
    return _onnx_model("input", (1, 3, h, w), outputs, seed=seed)


def make_pth(*, state_dict_keys=("backbone.stem.0.conv.weight", "head.cls_x.weight"), wrap: bool = True,
             extra: Optional[dict] = None) -> bytes:
    """A torch zip checkpoint shaped like mmengine's: meta (with numpy data) + state_dict."""
    import collections

    import torch

    state = collections.OrderedDict((k, torch.arange(6, dtype=torch.float32).reshape(2, 3)) for k in state_dict_keys)
    obj = {"meta": {"dataset_meta": {"sigmas": np.linspace(0.1, 0.2, 5)}, "epoch": np.int64(3)},
           "state_dict": state} if wrap else state
    if extra:
        obj.update(extra)
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def hf_cache_entry(cache: Path, repo_id: str, filename: str, data: bytes, blob_name: Optional[str] = None,
                   commit: str = COMMIT) -> Path:
    """Lay out a file as huggingface_hub's cache does: blobs/<sha256>, snapshots/<commit>/<file> -> blob, refs/main."""
    import os

    repo = cache / f"models--{repo_id.replace('/', '--')}"
    blob = repo / "blobs" / (blob_name or sha256(data))
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    snap = repo / "snapshots" / commit / filename
    snap.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(blob, snap.parent), snap)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snap


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def use_files(monkeypatch, files: dict[str, bytes]) -> None:
    """Make the registry expect these bytes (size and SHA-256) for these names."""
    from dwpose_core.hub import registry

    for name, data in files.items():
        spec = registry.MODELS[name]
        monkeypatch.setitem(registry.MODELS, name, dataclasses.replace(spec, size=len(data), sha256=sha256(data)))


# ---------------------------------------------------------------- fixtures

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_CLEARED = ("DWPOSE_CKPTS_DIR", "AUX_ANNOTATOR_CKPTS_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN",
            "HF_ENDPOINT", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", *_PROXY_VARS)


@pytest.fixture(scope="session", autouse=True)
def _per_user_cache_in_tmp(tmp_path_factory):
    """The hub's per-user cache (download records, remembered verdicts) lives in a session temp folder,
    for every test and the processes they start, never in the real ~/.cache/dwpose."""
    old = os.environ.get("DWPOSE_CACHE_DIR")
    os.environ["DWPOSE_CACHE_DIR"] = str(tmp_path_factory.mktemp("dwpose_user_cache"))
    yield
    if old is None:
        os.environ.pop("DWPOSE_CACHE_DIR", None)
    else:
        os.environ["DWPOSE_CACHE_DIR"] = old


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """An isolated world: the extension lives in tmp (custom_nodes/comfyui-dwpose), caches are in tmp,
    no proxy, no host registered, nothing remembered from earlier tests."""
    from dwpose_core.hub import download, locate, resolver, verify
    from dwpose_core.checkpoints import onnx_file

    for var in _CLEARED:
        monkeypatch.delenv(var, raising=False)
    ext = tmp_path / "ComfyUI" / "custom_nodes" / "comfyui-dwpose"
    ext.mkdir(parents=True)
    monkeypatch.setattr(locate, "extension_root", lambda: ext)
    monkeypatch.setattr(locate, "_hosts", {})
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    try:
        from huggingface_hub import constants
    except ImportError:
        constants = None
    if constants is not None:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False, raising=False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True, raising=False)
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "user_cache"))
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "5")
    verify.clear_cache()
    onnx_file.clear()
    download.forget_unreachable()
    resolver._warned.clear()
    yield SimpleNamespace(root=tmp_path, ext=ext, ckpts=ext / "ckpts", hf_cache=tmp_path / "hf_home" / "hub",
                          user_cache=tmp_path / "user_cache")
    verify.clear_cache()
    onnx_file.clear()
    download.forget_unreachable()


@pytest.fixture
def fake_hub(hub_env, monkeypatch):
    """A running fake endpoint; HF_ENDPOINT points at it (set after huggingface_hub was imported)."""
    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    hub.env = hub_env
    yield hub
    hub.stop()


# The two default models as small test files, served by the fake hub under their official names.
OFFICIAL_REPO = "yzd-v/DWPose"
SERVED_DETECTOR = make_detector(seed=0)
SERVED_POSE = make_pose(seed=1)


@pytest.fixture
def served(fake_hub, monkeypatch):
    """The fake hub serves SERVED_DETECTOR / SERVED_POSE, and the registry expects exactly those bytes."""
    fake_hub.add(OFFICIAL_REPO, "yolox_l.onnx", SERVED_DETECTOR)
    fake_hub.add(OFFICIAL_REPO, "dw-ll_ucoco_384.onnx", SERVED_POSE)
    use_files(monkeypatch, {"yolox_l.onnx": SERVED_DETECTOR, "dw-ll_ucoco_384.onnx": SERVED_POSE})
    return fake_hub
