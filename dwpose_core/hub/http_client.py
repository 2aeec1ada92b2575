"""HTTP(S) GET with deadlines, for model downloads (standard library only).

Deadlines (``DWPOSE_DOWNLOAD_TIMEOUT`` seconds, default 30, at most 60):
* from the first connection attempt until the final response's headers are in
  (host-name lookup, connect, redirects, a server that accepts and never
  answers or trickles its headers): at most the timeout, in total;
* connecting to one host: at most ``CONNECT_TIMEOUT`` (8 s) of that, so an
  unreachable hub fails in seconds, and a refused connection at once;
* while the body arrives: every read waits at most the timeout.
Nothing is retried here; the caller decides (a cut body is resumed with Range).

Proxies come from the usual environment variables (``HTTPS_PROXY``,
``NO_PROXY``...); TLS uses certifi's roots when installed, else the system's.
"""
from __future__ import annotations

import http.client
import logging
import os
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urljoin, urlsplit

from ..errors import DWPoseError

log = logging.getLogger("dwpose.hub")

ENV_TIMEOUT = "DWPOSE_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 60.0
CONNECT_TIMEOUT = 8.0
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_warned_setting: set[str] = set()


class HttpFailure(DWPoseError):
    """Base: the request did not give a usable response. ``str()`` is one plain sentence."""


class Unreachable(HttpFailure):
    """The host name does not resolve or nothing accepts the connection."""


class TimedOut(HttpFailure):
    """The server did not answer (or finish its headers, or send more body) in time."""


class HttpStatusError(HttpFailure):
    def __init__(self, message: str, status: int, headers: dict):
        super().__init__(message)
        self.status, self.headers = status, headers


def timeout_setting() -> float:
    """The download timeout in seconds, from DWPOSE_DOWNLOAD_TIMEOUT (default 30, capped at 60)."""
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
        if not value > 0:
            raise ValueError
    except ValueError:
        if raw not in _warned_setting:
            _warned_setting.add(raw)
            log.warning("DWPose: %s=%r is not a positive number of seconds; using %g.", ENV_TIMEOUT, raw,
                        DEFAULT_TIMEOUT)
        return DEFAULT_TIMEOUT
    return min(value, MAX_TIMEOUT)


@dataclass
class Response:
    url: str  # the final URL, after redirects
    status: int
    headers: dict  # final response's headers, lower-case names
    first_headers: dict  # the first response's headers (the hub's own: X-Linked-Etag, X-Repo-Commit)
    raw: http.client.HTTPResponse
    conn: http.client.HTTPConnection

    def read(self, n: int) -> bytes:
        try:
            return self.raw.read(n)
        except socket.timeout:
            raise TimedOut(f"the server stopped sending data for more than {self.conn.sock_timeout:g} s") from None

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self.conn.close()


def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()


def _resolve(host: str, port: int, timeout: float) -> list:
    """getaddrinfo in a helper thread, so a lookup that hangs (no network) is bounded too."""
    box: dict = {}

    def lookup():
        try:
            box["ok"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["err"] = exc

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if "ok" in box:
        return box["ok"]
    if "err" in box:
        raise Unreachable(f"the host name {host} cannot be resolved ({box['err']})")
    raise Unreachable(f"looking up the host name {host} took more than {timeout:g} s")


def _connector(deadline: float):
    def create_connection(address, timeout=None, source_address=None, **_):
        host, port = address
        budget = min(CONNECT_TIMEOUT, max(deadline - time.monotonic(), 0.01))
        errors = []
        for family, kind, proto, _name, sockaddr in _resolve(host, port, budget):
            left = min(CONNECT_TIMEOUT, deadline - time.monotonic())
            if left <= 0:
                break
            sock = socket.socket(family, kind, proto)
            sock.settimeout(left)
            try:
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                errors.append(exc)
                sock.close()
        if errors and all(isinstance(e, socket.timeout) for e in errors):
            raise Unreachable(f"connecting to {host}:{port} took too long (no answer)")
        why = errors[-1] if errors else "no time left"
        raise Unreachable(f"cannot connect to {host}:{port} ({why})")

    return create_connection


def _connection(url: str, deadline: float, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise HttpFailure(f"unsupported URL scheme in {url}")
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    proxy = None if urllib.request.proxy_bypass(host) else urllib.request.getproxies().get(parts.scheme)
    if proxy:
        p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        conn: http.client.HTTPConnection = http.client.HTTPConnection(p.hostname, p.port or 80, timeout=timeout)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(p.hostname, p.port or 80, timeout=timeout, context=_ssl_context())
            conn.set_tunnel(host, port)
        else:
            target = url  # a plain-HTTP proxy takes the absolute URL
    elif parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_ssl_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn._create_connection = _connector(deadline)  # bounded lookup + connect, proxies and TLS unchanged
    conn.sock_timeout = timeout
    return conn, target


def get(url: str, headers: dict, *, timeout: Optional[float] = None, auth_origin: Optional[str] = None,
        auth: Optional[str] = None) -> Response:
    """GET ``url`` following redirects; returns the final response with its body unread.

    ``auth`` (an Authorization value) is sent only to ``auth_origin`` (scheme://host:port), never
    to the host a redirect leads to. Raises Unreachable, TimedOut, HttpStatusError (>= 400).
    """
    timeout = timeout_setting() if timeout is None else timeout
    start = time.monotonic()
    deadline = start + timeout
    first: Optional[dict] = None
    for _hop in range(MAX_REDIRECTS + 1):
        send = dict(headers)
        if auth and _origin(url) == auth_origin:
            send["Authorization"] = auth
        conn, target = _connection(url, deadline, timeout)
        fired = threading.Event()

        def stop(conn=conn):
            fired.set()
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.request("GET", target, headers=send)
            raw = conn.getresponse()
        except HttpFailure:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if fired.is_set() or isinstance(exc, socket.timeout):
                raise TimedOut(f"the server did not answer within {timeout:g} s") from None
            raise Unreachable(f"the connection failed ({exc or type(exc).__name__})") from None
        finally:
            watchdog.cancel()
        if fired.is_set():
            conn.close()
            raise TimedOut(f"the server did not answer within {timeout:g} s")
        got = {k.lower(): v for k, v in raw.getheaders()}
        first = got if first is None else first
        if raw.status in _REDIRECTS and "location" in got:
            raw.close()
            conn.close()
            url = urljoin(url, got["location"])
            continue
        if conn.sock is not None:
            conn.sock.settimeout(timeout)  # body: each read may wait this long
        if raw.status >= 400:
            raw.close()
            conn.close()
            raise HttpStatusError(f"the server answered HTTP {raw.status} {raw.reason}".strip(), raw.status, got)
        return Response(url, raw.status, got, first, raw, conn)
    raise HttpFailure(f"more than {MAX_REDIRECTS} redirects")


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.hostname}:{p.port or (443 if p.scheme == 'https' else 80)}"


def origin(url: str) -> str:
    return _origin(url)
