"""A proxy in front of retailer1 that poisons a share of its order lines (fault scenario 10).

Which line gets which poison depends only on its (order id, line number), so a page fetched
twice is poisoned the same way. Two kinds break a whole order (every line of it carries the
order's fields): an unknown status and an unreadable creation time. Four break one line: the
line is not a JSON object's worth of fields (a nested object where the SKU goes), its SKU is
missing, its quantity is not a number, its quantity is negative. Money is left readable, so
the retailer's control totals still reconcile with warehouse + rejected.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import orjson

ORDER_POISONS = {
    "unknown_status": lambda line: {**line, "order_status": "lost-in-transit"},
    "bad_timestamp": lambda line: {**line, "order_ts": "2024-13-45 99:99:99"},
}
LINE_POISONS = {
    "malformed_record": lambda line: {**line, "sku": {"nested": line.get("sku")}},
    "missing_field": lambda line: {**line, "sku": None},
    "bad_number": lambda line: {**line, "qty": "three"},
    "negative_quantity": lambda line: {**line, "qty": -abs(int(line.get("qty") or 1))},
}


def _bucket(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16)


class PoisonProxy:
    """Order-level poison for `order_share` of orders, line-level for `line_share` of lines."""

    def __init__(self, target_url: str, port: int, order_share: float = 0.01,
                 line_share: float = 0.03) -> None:
        self.target = urlparse(target_url)
        self.port = port
        self.order_share, self.line_share = order_share, line_share
        self.poisoned_orders: set[str] = set()
        self.poisoned_lines: set[tuple[str, int]] = set()
        self.kinds: Counter[str] = Counter()
        self.lines_seen: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "accept-encoding")}
                upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port,
                                                      timeout=60)
                upstream.request("GET", self.path, headers=headers)
                resp = upstream.getresponse()
                body = resp.read()
                upstream.close()
                if resp.status == 200 and self.path.startswith("/api/v1/order-lines"):
                    page = orjson.loads(body)
                    page["data"] = [proxy.poison(line) for line in page["data"]]
                    body = orjson.dumps(page)
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding",
                                           "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815 - nothing of retailer1 is POSTed by ingestion

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def poison(self, line: dict) -> dict:
        order_id, line_no = str(line.get("order_id")), int(line.get("line_no") or 0)
        with self._lock:
            self.lines_seen.add((order_id, line_no))
            if _bucket("order", order_id) % 10_000 < self.order_share * 10_000:
                kind = sorted(ORDER_POISONS)[_bucket("kind", order_id) % len(ORDER_POISONS)]
                self.poisoned_orders.add(order_id)
                self.kinds[kind] += (order_id, line_no) not in self.poisoned_lines
                self.poisoned_lines.add((order_id, line_no))
                return ORDER_POISONS[kind](line)
            if _bucket("line", order_id, line_no) % 10_000 < self.line_share * 10_000:
                kind = sorted(LINE_POISONS)[_bucket("kind", order_id, line_no)
                                            % len(LINE_POISONS)]
                self.kinds[kind] += (order_id, line_no) not in self.poisoned_lines
                self.poisoned_lines.add((order_id, line_no))
                return LINE_POISONS[kind](line)
        return line

    def start(self) -> PoisonProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
