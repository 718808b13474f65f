"""What a retailer5 batch should load, read straight from its CSV bytes (csv module only;
nothing of the pipeline): its accepted lines per order date, as the marts count them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

from retailers.retailer5.files import SALES_COLUMNS


def file_rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r and any(r)]
    if rows and "order_id" in rows[0]:
        header, rows = rows[0], rows[1:]
    else:
        header = list(SALES_COLUMNS)
    return [dict(zip(header, r, strict=True)) for r in rows]


def accepted_lines(body: bytes, day: dt.date, lookback: int = 7) -> dict[tuple[str, int], dict]:
    """Each (order, line) once, leaving out what the contract rejects."""
    out: dict[tuple[str, int], dict] = {}
    earliest = (day - dt.timedelta(days=lookback)).isoformat()
    for r in file_rows(body):
        try:
            qty = int(r["quantity"])
            created = dt.datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
        except ValueError:
            continue
        if qty < 0 or not earliest <= created.date().isoformat() <= day.isoformat():
            continue
        out.setdefault((r["order_id"], int(r["line_number"])), r)
    return out


def daily(lines: dict[tuple[str, int], dict]) -> dict[dt.date, tuple[int, int, int, Decimal]]:
    """Per order date: orders, lines, units and the lines' total (GBP)."""
    orders: dict[dt.date, set[str]] = defaultdict(set)
    counts: dict[dt.date, list] = defaultdict(lambda: [0, 0, Decimal("0")])
    for (order_id, _), r in lines.items():
        d = dt.date.fromisoformat(r["created_at"][:10])
        orders[d].add(order_id)
        c = counts[d]
        c[0] += 1
        c[1] += int(r["quantity"])
        c[2] += Decimal(r["line_total"])
    return {d: (len(orders[d]), c[0], c[1], c[2]) for d, c in counts.items()}
