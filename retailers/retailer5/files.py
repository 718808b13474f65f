"""A date's files of retailer5, from the generator world: sales, stores, products, control.

    sales_YYYYMMDD.csv     one row per order line, with its order's fields and lifecycle
                           timestamps (SALES_COLUMNS)
    sales_YYYYMMDD.ctl     the control total: `rows=N`, `amount=X` (sum of line_total),
                           `currency`, `order_lines=M`, `order_lines_amount=Y` (the date's
                           order lines, each once, as the other retailers report a date)
    stores_YYYYMMDD.csv    STORE_COLUMNS
    products_YYYYMMDD.csv  PRODUCT_COLUMNS (optional: a partner sends it when it likes)

Each file has its own quirks (`Quirks`: header or not, a UTF-8 BOM, CRLF, columns in another
order when there is a header, empty trailing lines); names with commas and quotes are
quoted as CSV does. Faults (`Faults`) spoil a drop the way real partners do: malformed
lines, a file name that does not parse, a truncated file, a corrected file for a date.
Everything is deterministic in (seed, date): the same call gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retailers.generator.calendar import DAY, ORDER_BLOCK, day_index, day_start
from retailers.generator.day import generate_day
from retailers.generator.frames import DayData
from retailers.generator.master import MasterData, Volumes, build_master
from retailers.retailer5.profile import PROFILE

CURRENCY = "GBP"
SALES_COLUMNS = ("order_id", "line_number", "customer_id", "store_id", "product_id",
                 "created_at", "quantity", "unit_price", "discount", "line_total", "currency",
                 "order_total", "paid_at", "shipped_at", "delivered_at", "canceled_at",
                 "refunded_at", "customer_reference")
STORE_COLUMNS = ("store_id", "store_name", "channel", "city", "region", "country")
PRODUCT_COLUMNS = ("product_id", "product_name", "category", "list_price", "currency")
MILESTONES = ("paid_at", "shipped_at", "delivered_at", "canceled_at", "refunded_at")
BOM = b"\xef\xbb\xbf"
_EPOCH = np.datetime64("2000-01-01T00:00:00", "s")
# Random streams of this module (beside the generator's own, which it never shifts).
_QUIRKS, _FAULTS, _CORRECTION = 501, 502, 503
KIND_NO = {"sales": 1, "stores": 2, "products": 3}

Row = list[str]


@dataclass(frozen=True)
class Quirks:
    """How one file is written."""

    header: bool = True
    bom: bool = False
    crlf: bool = False
    reorder: bool = False        # only with a header: the columns in another order
    blank_tail: int = 0          # empty lines after the last row

    @classmethod
    def draw(cls, seed: int, day: dt.date, kind: str) -> Quirks:
        """The quirks a file of `kind` has on `day` (each about one file in three)."""
        r = np.random.default_rng([seed, PROFILE.retailer_no, _QUIRKS, day_index(day),
                                   KIND_NO[kind]])
        header = bool(r.random() < 0.75)
        return cls(header=header, bom=bool(r.random() < 0.3), crlf=bool(r.random() < 0.4),
                   reorder=header and bool(r.random() < 0.4),
                   blank_tail=int(r.integers(0, 3)))


@dataclass(frozen=True)
class Faults:
    """What goes wrong with a drop (RETAILER5_* settings or `retailers drop-files` flags)."""

    malformed_lines: int = 0     # sales lines with an unreadable created_at and quantity
    truncate: bool = False       # the sales file cut off mid-line (its .ctl is whole)
    bad_name: bool = False       # the sales file under a name that does not parse
    correction: bool = False     # the corrected sales file of the date (lines changed,
                                 # removed, added, one order dated two days earlier)


@dataclass(frozen=True)
class DropFile:
    name: str
    body: bytes


def master_data(volumes: Volumes) -> MasterData:
    return build_master(PROFILE, volumes)


def volumes_of(gen) -> Volumes:
    """The generator settings (RETAILER_*) as master-data volumes."""
    return Volumes(seed=gen.seed, products=gen.products, customers=gen.customers,
                   stores=gen.stores, fault_rate=gen.fault_rate,
                   price_change_rate=gen.price_change_rate,
                   customer_change_rate=gen.customer_change_rate)


# --- values as the partner writes them --------------------------------------------------------

def times(seconds: np.ndarray) -> list[str]:
    """Seconds since 2000-01-01 as `2024-01-15T13:45:12Z` (negative: empty)."""
    text = (_EPOCH + seconds.astype("timedelta64[s]")).astype(str)
    return ["" if s < 0 else f"{t}Z" for s, t in zip(seconds.tolist(), text.tolist(),
                                                     strict=True)]


def pounds(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{rest:02d}"


def order_id(order_no: int) -> str:
    return f"HF-{order_no}"


# --- rows ---------------------------------------------------------------------------------------

def sales_rows(master: MasterData, data: DayData) -> list[Row]:
    """One row per stored order line (a duplicated line twice, as the partner's export
    has it), in SALES_COLUMNS order, orders together."""
    o, ln, ev = data.orders, data.lines, data.events
    n = len(o.order_no)
    stamps = np.full((n, len(MILESTONES)), np.iinfo(np.int64).max, dtype=np.int64)
    at = np.searchsorted(o.order_no, ev.order_no)
    np.minimum.at(stamps, (at, ev.event.astype(np.int64) - 1), ev.occurred_s)
    stamps[stamps == np.iinfo(np.int64).max] = -1
    milestone_text = [times(stamps[:, k]) for k in range(len(MILESTONES))]
    created = times(o.created_s)
    owner = np.searchsorted(o.order_no, ln.order_no)
    refs = ["" if no % 17 else f'PO "{no % 9973}", deliver to rear gate'
            for no in o.order_no.tolist()]
    rows: list[Row] = []
    for i, line_no, product, qty, price, disc, total in zip(
            owner.tolist(), ln.line_no.tolist(), ln.product_no.tolist(), ln.qty.tolist(),
            ln.unit_price.tolist(), ln.discount.tolist(), ln.line_total.tolist(), strict=True):
        rows.append([order_id(int(o.order_no[i])), str(line_no),
                     f"C{o.customer_no[i]}", f"S{o.store_no[i]}", f"P{product:05d}",
                     created[i], str(qty), pounds(price), pounds(disc), pounds(total),
                     CURRENCY, pounds(int(o.total_cents[i])),
                     *(m[i] for m in milestone_text), refs[i]])
    return rows


def store_rows(master: MasterData) -> list[Row]:
    s = master.stores
    channel = {"trade portal": "web", "depot": "store", "cash & carry": "store"}
    return [[f"S{no}", name, channel[kind], PROFILE.places[p].city, PROFILE.places[p].region,
             PROFILE.places[p].country]
            for no, name, kind, p in zip(s.store_no.tolist(), s.name, s.kind,
                                         s.place_idx.tolist(), strict=True)]


def product_rows(master: MasterData, day: dt.date) -> list[Row]:
    p = master.products
    noon = np.full(len(p.product_no), day_start(day) + DAY // 2, dtype=np.int64)
    prices = master.prices.price_at(p.product_no, noon)
    return [[f"P{no:05d}", name, cat, pounds(price), CURRENCY]
            for no, name, cat, price in zip(p.product_no.tolist(), p.name, p.category,
                                            prices.tolist(), strict=True)]


def corrected(rows: Sequence[Row], seed: int, day: dt.date) -> list[Row]:
    """The corrected sales of a date: some lines' quantity changed, some removed, a few
    new orders added, one order dated two days earlier; order totals follow the lines."""
    r = np.random.default_rng([seed, PROFILE.retailer_no, _CORRECTION, day_index(day)])
    col = {c: i for i, c in enumerate(SALES_COLUMNS)}
    out: list[Row] = []
    for row in rows:
        pick = r.random()
        if pick < 0.02:
            continue                                   # removed
        row = list(row)
        if pick < 0.05 and row[col["quantity"]].isdigit():   # changed (a sane line)
            qty = int(row[col["quantity"]]) + 1
            cents = qty * _cents(row[col["unit_price"]]) - _cents(row[col["discount"]])
            row[col["quantity"]], row[col["line_total"]] = str(qty), pounds(cents)
        out.append(row)
    # new orders of the date: two lines each, after the day's last order number
    base = day_index(day) * ORDER_BLOCK + ORDER_BLOCK - 100
    template = out[0] if out else None
    for k in range(3):
        for line in (1, 2):
            if template is None:
                break
            new = list(template)
            new[col["order_id"]] = order_id(base + k)
            new[col["line_number"]] = str(line)
            new[col["quantity"]] = str(line + k)
            cents = (line + k) * _cents(new[col["unit_price"]])
            new[col["discount"]], new[col["line_total"]] = "0.00", pounds(cents)
            out.append(new)
    # one order back-dated by two days (the partner had keyed the wrong date)
    if out:
        moved = out[len(out) // 2][col["order_id"]]
        for row in out:
            if row[col["order_id"]] == moved:
                for c in ("created_at", *MILESTONES):
                    if row[col[c]]:
                        row[col[c]] = _shift(row[col[c]], -2)
    _fix_order_totals(out, col)
    return out


def _cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    cents = abs(int(whole)) * 100 + int((frac + "00")[:2])
    return -cents if text.startswith("-") else cents


def _shift(stamp: str, days: int) -> str:
    moved = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) + dt.timedelta(days=days)
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fix_order_totals(rows: list[Row], col: dict[str, int]) -> None:
    totals: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row[col["order_id"]], row[col["line_number"]])
        if key in seen:
            continue                                   # a duplicated line counts once
        seen.add(key)
        totals[key[0]] = totals.get(key[0], 0) + _cents(row[col["line_total"]])
    for row in rows:
        row[col["order_total"]] = pounds(totals[row[col["order_id"]]])


def malform(rows: list[Row], count: int, seed: int, day: dt.date) -> list[int]:
    """Spoil `count` rows (an unreadable created_at and quantity; the amount stays).
    Returns their indexes."""
    if not rows or count <= 0:
        return []
    r = np.random.default_rng([seed, PROFILE.retailer_no, _FAULTS, day_index(day)])
    picked = sorted(r.choice(len(rows), min(count, len(rows)), replace=False).tolist())
    col = {c: i for i, c in enumerate(SALES_COLUMNS)}
    for i in picked:
        rows[i][col["created_at"]] = "15/01/2024 25:61"
        rows[i][col["quantity"]] = "two"
    return picked


# --- files ----------------------------------------------------------------------------------

def render(columns: Sequence[str], rows: Sequence[Row], quirks: Quirks,
           seed: int = 0, day: dt.date | None = None) -> bytes:
    """The CSV bytes of `rows` written with `quirks`."""
    order = list(range(len(columns)))
    if quirks.header and quirks.reorder:
        r = np.random.default_rng([seed, PROFILE.retailer_no, _QUIRKS,
                                   day_index(day) if day else 0, 99])
        order = r.permutation(len(columns)).tolist()
    newline = "\r\n" if quirks.crlf else "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    if quirks.header:
        writer.writerow([columns[i] for i in order])
    writer.writerows([row[i] for i in order] for row in rows)
    buf.write(newline * quirks.blank_tail)
    body = buf.getvalue().encode("utf-8")
    return BOM + body if quirks.bom else body


def control_file(rows: Sequence[Row], day: dt.date) -> bytes:
    """The sidecar, computed by the partner's system from its own data (before anything
    spoils a line): the file's data rows and the sum of their line_total (what the file
    holds), and, as the other retailers report a date, the order lines of orders created
    on the batch date (a line written twice counted once) and their amount."""
    col = {c: i for i, c in enumerate(SALES_COLUMNS)}
    amount = sum(_cents(r[col["line_total"]]) for r in rows)
    lines: dict[tuple[str, str], int] = {}
    for r in rows:
        if r[col["created_at"]][:10] == day.isoformat():
            lines.setdefault((r[col["order_id"]], r[col["line_number"]]),
                             _cents(r[col["line_total"]]))
    return (f"rows={len(rows)}\namount={pounds(amount)}\ncurrency={CURRENCY}\n"
            f"order_lines={len(lines)}\norder_lines_amount={pounds(sum(lines.values()))}\n"
            ).encode()


def truncate(body: bytes) -> bytes:
    """Cut a file off in the middle of a line, about 60% of the way in."""
    cut = int(len(body) * 0.6)
    start = body.rfind(b"\n", 0, cut) + 1
    end = body.find(b"\n", start)
    end = len(body) if end < 0 else end
    return body[:start + max((end - start) // 2, 1)]


def file_name(kind: str, day: dt.date, ext: str = "csv") -> str:
    return f"{kind}_{day:%Y%m%d}.{ext}"


def day_files(gen, day: dt.date, *, faults: Faults = Faults(),
              quirks: dict[str, Quirks] | None = None, products: bool = True,
              orders_per_day: int | None = None) -> list[DropFile]:
    """The files retailer5 drops for `day` (stores and products first, the control file
    before its sales file).

    Args:
        gen: generator settings (seed, volumes, orders per day, fault rate).
        faults: what goes wrong with this drop.
        quirks: per kind ("sales", "stores", "products"); drawn from (seed, day) if absent.
        products: send the products file.
    """
    master = master_data(volumes_of(gen))
    data = generate_day(master, day, orders_per_day or gen.orders_per_day)
    rows = sales_rows(master, data)
    if faults.correction:
        rows = corrected(rows, gen.seed, day)
    control = control_file(rows, day)
    malform(rows, faults.malformed_lines, gen.seed, day)

    def q(kind: str) -> Quirks:
        return (quirks or {}).get(kind) or Quirks.draw(gen.seed, day, kind)

    out = [DropFile(file_name("stores", day), render(STORE_COLUMNS, store_rows(master),
                                                     q("stores"), gen.seed, day))]
    if products:
        out.append(DropFile(file_name("products", day),
                            render(PRODUCT_COLUMNS, product_rows(master, day), q("products"),
                                   gen.seed, day)))
    sales = render(SALES_COLUMNS, rows, q("sales"), gen.seed, day)
    if faults.truncate:
        sales = truncate(sales)
    name = f"sales {day:%d.%m.%Y}.csv" if faults.bad_name else file_name("sales", day)
    out.append(DropFile(file_name("sales", day, "ctl"), control))
    out.append(DropFile(name, sales))
    return out
