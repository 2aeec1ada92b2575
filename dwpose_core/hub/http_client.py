"""HTTP(S) GET with deadlines, for model downloads (standard library only).

Deadlines (``DWPOSE_DOWNLOAD_TIMEOUT`` seconds, default 30, at most 60):
* from the first connection attempt until the final response's headers are in
  (host-name lookup, connect, redirects, a server that accepts and answers late, or trickles
  its headers): at most the timeout, in total. A server that answers in 12 s is waited for
  when the timeout is 30 s;
* opening the TCP connection to one address: at most ``CONNECT_TIMEOUT`` (8 s) of that, so an
  unreachable hub fails in seconds (and a refused connection at once). That failure is
  :class:`Unreachable`, which no timeout setting changes; :class:`TimedOut` is the one the
  setting governs;
* while the body arrives (:class:`BodyPace`): no read waits more than the timeout, the body must
  come at least at ``DWPOSE_DOWNLOAD_MIN_RATE`` kB/s (default 20) measured over the last
  timeout seconds, and it must be complete within timeout + size / minimum rate (for the
  217 MB detector at 20 kB/s about 3 hours; at a normal rate it takes seconds). A server that
  trickles one byte every half second is abandoned after one window, with one message.
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
from collections import deque
import urllib.request
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urljoin, urlsplit

from ..errors import DWPoseError

log = logging.getLogger("dwpose.hub")

ENV_TIMEOUT = "DWPOSE_DOWNLOAD_TIMEOUT"
ENV_MIN_RATE = "DWPOSE_DOWNLOAD_MIN_RATE"  # kB/s (1000 bytes per second)
DEFAULT_MIN_RATE_KB = 20.0
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


class TooSlow(TimedOut):
    """The body came slower than the minimum rate, or not within the deadline its size allows."""


class HttpStatusError(HttpFailure):
    def __init__(self, message: str, status: int, headers: dict):
        super().__init__(message)
        self.status, self.headers = status, headers


def _positive_setting(name: str, default: float, unit: str) -> float:
    """A positive number from the environment variable ``name``; ``default`` when unset, and with one
    warning (per value) when it is not a positive number."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        if raw not in _warned_setting:
            _warned_setting.add(raw)
            log.warning("DWPose: %s=%r is not a positive number of %s; using %g.", name, raw, unit, default)
        return default
    return value


def timeout_setting() -> float:
    """The download timeout in seconds, from DWPOSE_DOWNLOAD_TIMEOUT (default 30, capped at 60)."""
    return min(_positive_setting(ENV_TIMEOUT, DEFAULT_TIMEOUT, "seconds"), MAX_TIMEOUT)


def min_rate_setting() -> float:
    """The minimum body rate in bytes per second, from DWPOSE_DOWNLOAD_MIN_RATE in kB/s (default 20)."""
    return _positive_setting(ENV_MIN_RATE, DEFAULT_MIN_RATE_KB, "kB/s") * 1000


def _amount(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{int(n)} bytes"


class BodyPace:
    """The body's minimum rate and total deadline (curl's --speed-limit/--speed-time, plus a deadline
    from the size). ``check(received)`` after every read raises :class:`TooSlow`; ``read_wait()`` is
    how long the next read may block. One object spans the resumed connections of one download."""

    def __init__(self, expected: Optional[int], *, window: Optional[float] = None,
                 min_rate: Optional[float] = None, clock=time.monotonic):
        self.window = timeout_setting() if window is None else window
        self.min_rate = min_rate_setting() if min_rate is None else min_rate  # bytes per second
        self.expected = expected
        self.clock = clock
        self.start = clock()
        self.allowed = None if expected is None else self.window + expected / self.min_rate
        self.samples: deque = deque([(self.start, 0)])

    def _message(self, received: int, seconds: float) -> str:
        of = f" of {_amount(self.expected)}" if self.expected is not None else ""
        return (f"the server sent {_amount(received)}{of} in {seconds:.0f} s, slower than the minimum of "
                f"{self.min_rate / 1000:g} kB/s ({ENV_MIN_RATE}; set it lower on a slow link)")

    def check_deadline(self, received: int) -> float:
        """Raise TooSlow once the total deadline has passed; returns the clock's time."""
        now = self.clock()
        if self.allowed is not None and now - self.start > self.allowed:
            raise TooSlow(self._message(received, now - self.start))
        return now

    def check(self, received: int) -> None:
        """``received``: bytes that arrived so far, over every connection (it never goes down)."""
        now = self.check_deadline(received)
        self.samples.append((now, received))
        while len(self.samples) > 1 and self.samples[1][0] <= now - self.window:
            self.samples.popleft()
        since, before = self.samples[0]
        span = now - since
        if span >= self.window and received - before < self.min_rate * span:
            raise TooSlow(self._message(received, now - self.start))

    def read_wait(self) -> float:
        """The stall limit (the timeout), shortened to what is left before the deadline."""
        if self.allowed is None:
            return self.window
        return max(min(self.window, self.start + self.allowed - self.clock()), 0.01)


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

    def read_some(self, n: int, wait: Optional[float] = None) -> bytes:
        """Up to ``n`` bytes, as soon as some have arrived (one socket read: a trickle is seen byte by
        byte); b"" at the end. ``wait``: the most this read may block (default: the timeout)."""
        wait = self.conn.sock_timeout if wait is None else wait
        if self.conn.sock is not None:
            self.conn.sock.settimeout(wait)
        try:
            return self.raw.read1(n)
        except socket.timeout:
            raise TimedOut(f"the server stopped sending data for more than {wait:g} s") from None

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
                # From here the answer is waited for until the request's deadline (the watchdog in
                # get() enforces it), not just CONNECT_TIMEOUT.
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                return sock
            except OSError as exc:
                errors.append(exc)
                sock.close()
        if errors and all(isinstance(e, socket.timeout) for e in errors):
            raise Unreachable(f"connecting to {host}:{port} got no answer within {CONNECT_TIMEOUT:g} s")
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
