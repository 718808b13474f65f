"""A small fault-injecting HTTP proxy in front of the S3 server (fault scenario 6).

It forwards every request unchanged (the Host header included, so SigV4 signatures stay
valid) and, while `fail_writes` is above zero, answers that share of writes (PUT, POST)
with either a 500 `InternalError` or a connection reset, after reading the request. When the
server behind it is down, requests get a 503 `SlowDown`, as a load balancer in front of a
restarting S3 would answer.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection"}
S3_ERROR = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
            "<Message>injected by the fault proxy</Message></Error>")


class FaultProxy:
    """Run with `start()`; `fail_writes` and `seen` may be read and set from tests."""

    def __init__(self, target_port: int, port: int, seed: int = 14) -> None:
        self.target_port = target_port
        self.port = port
        self.fail_writes = 0.0
        self.seen: Counter[str] = Counter()
        self._rnd = random.Random(seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: counted in `seen` instead
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _error(self, status: int, code: str) -> None:
                body = S3_ERROR.format(code=code).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _reset(self) -> None:
                # SO_LINGER 0: close sends a TCP RST instead of a clean FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True

            def _handle(self) -> None:
                body = self._body()
                if self.command in ("PUT", "POST"):
                    fault = proxy._draw()
                    if fault == "500":
                        proxy._count("injected_500")
                        return self._error(500, "InternalError")
                    if fault == "reset":
                        proxy._count("injected_reset")
                        return self._reset()
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                try:
                    upstream = http.client.HTTPConnection("127.0.0.1", proxy.target_port,
                                                          timeout=60)
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    resp = upstream.getresponse()
                    data = resp.read()
                except OSError:
                    proxy._count("server_down")
                    return self._error(503, "SlowDown")
                proxy._count(f"{self.command} {resp.status}")
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _draw(self) -> str | None:
        with self._lock:
            if self._rnd.random() >= self.fail_writes:
                return None
            return self._rnd.choice(("500", "reset"))

    def _count(self, what: str) -> None:
        with self._lock:
            self.seen[what] += 1

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
