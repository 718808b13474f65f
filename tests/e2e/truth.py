"""What the marts should say, computed straight from the three retailers' own databases.

Nothing of the pipeline is used here: each retailer's orders, lines and lifecycle are read
with SQL written against its own schema (docs/retailers.md), as the business knew them at
the end of a reporting day, and the answers are computed from those rows alone (with the
warehouse's FX table, the one piece of reference data). Lines with a negative quantity are
left out, because the pipeline rejects them; a line the retailer stored twice counts once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_UP, Decimal

import psycopg2
import psycopg2.extras

# The marts compared with answers computed here (product and category revenue are
# compared in tests/transformation/test_marts.py).
MARTS = ("daily_orders", "daily_revenue", "order_funnel", "order_cancellations",
         "fulfillment_times")

# Per retailer: its orders created on %(day)s, with the lifecycle known by %(known)s, and
# its order lines (one per order and line number), money in the retailer's currency.
ORDERS = {
    "retailer1": """
        select o.order_id::text as order_id, o.customer_id::text as customer_id,
               o.order_ts at time zone 'UTC' as created_at,
               min(s.at) filter (where s.status = 'paid') as paid_at,
               min(s.at) filter (where s.status = 'shipped') as shipped_at,
               min(s.at) filter (where s.status = 'delivered') as delivered_at,
               min(s.at) filter (where s.status = 'canceled') as canceled_at,
               min(s.at) filter (where s.status = 'refunded') as refunded_at
        from sales_order o
        left join (select order_id, status, status_ts at time zone 'UTC' as at
                   from order_status_log where logged_on <= %(known)s) s
               on s.order_id = o.order_id
        where o.order_ts >= %(day)s and o.order_ts < %(day)s::date + 1
        group by o.order_id""",
    "retailer2": """
        select p.id as order_id, p.shopper_id as customer_id, p.placed_at as created_at,
               min(s.changed_at) filter (where s.status = 'paid') as paid_at,
               min(s.changed_at) filter (where s.status = 'shipped') as shipped_at,
               min(s.changed_at) filter (where s.status = 'delivered') as delivered_at,
               min(s.changed_at) filter (where s.status = 'canceled') as canceled_at,
               min(s.changed_at) filter (where s.status = 'refunded') as refunded_at
        from purchase p
        left join purchase_status s on s.purchase_id = p.id and s.recorded_day <= %(known)s
        where (p.placed_at at time zone 'UTC')::date = %(day)s
        group by p.id""",
    "retailer3": """
        select h.order_number::text as order_id, h.client_id::text as customer_id,
               h.created_at,
               min(e.occurred_at) filter (where e.event_type = 'PAID') as paid_at,
               min(e.occurred_at) filter (where e.event_type = 'SHIPPED') as shipped_at,
               min(e.occurred_at) filter (where e.event_type = 'DELIVERED') as delivered_at,
               min(e.occurred_at) filter (where e.event_type = 'CANCELLED') as canceled_at,
               min(e.occurred_at) filter (where e.event_type = 'REFUNDED') as refunded_at
        from sales_header h
        left join sales_event e on e.header_id = h.id and e.reported_on <= %(known)s
        where (h.created_at at time zone 'UTC')::date = %(day)s
        group by h.id""",
}
LINES = {
    "retailer1": """
        select distinct on (l.order_id, l.line_no) l.order_id::text as order_id,
               l.line_no as line_number, l.qty as quantity, l.line_total as line_total
        from sales_order_line l join sales_order o on o.order_id = l.order_id
        where o.order_ts >= %(day)s and o.order_ts < %(day)s::date + 1
        order by l.order_id, l.line_no, l.row_id""",
    "retailer2": """
        select distinct on (i.purchase_id, i.line) i.purchase_id as order_id,
               i.line as line_number, i.quantity, i.total_cents / 100.0 as line_total
        from purchase_item i join purchase p on p.id = i.purchase_id
        where (p.placed_at at time zone 'UTC')::date = %(day)s
        order by i.purchase_id, i.line, i.item_id""",
    "retailer3": """
        select distinct on (i.header_id, i.position) h.order_number::text as order_id,
               i.position as line_number, i.quantity, i.line_total
        from sales_item i join sales_header h on h.id = i.header_id
        where (h.created_at at time zone 'UTC')::date = %(day)s
        order by i.header_id, i.position, i.id""",
}
CURRENCY = {"retailer1": "USD", "retailer2": "USD", "retailer3": "EUR", "retailer4": "USD",
            "retailer5": "GBP"}
# retailer4's event types that mark each milestone (its events are its only record).
R4_MILESTONES = {"payment_captured": "paid_at", "shipment_dispatched": "shipped_at",
                 "shipment_delivered": "delivered_at", "order_canceled": "canceled_at",
                 "payment_refunded": "refunded_at"}


def retailer4_rows(events, known: dt.date | None = None) -> tuple[list[dict], list[dict]]:
    """retailer4's orders and lines of a day from its own events (`world.day_events`), with
    the milestones that happened by the end of `known` (all of them when None)."""
    end = None if known is None else dt.datetime.combine(known + dt.timedelta(days=1),
                                                         dt.time(), dt.UTC)
    orders: dict[str, dict] = {}
    lines: list[dict] = []
    for e in events:
        if e.event_type == "order_created":
            orders[e.order_id] = {"retailer_id": "retailer4", "order_id": e.order_id,
                                  "customer_id": e.customer_id, "created_at": e.timestamp,
                                  **{m: None for m in R4_MILESTONES.values()}}
            lines += [{"retailer_id": "retailer4", "order_id": e.order_id,
                       "line_number": x.line_number, "quantity": x.quantity,
                       "line_total": Decimal(x.line_total_cents) / 100} for x in e.lines]
    for e in events:
        column = R4_MILESTONES.get(e.event_type)
        if column and e.order_id in orders and (end is None or e.timestamp < end):
            current = orders[e.order_id][column]
            orders[e.order_id][column] = min(filter(None, (current, e.timestamp)))
    return list(orders.values()), lines


def _rows(url: str, query: str, day: dt.date, known: dt.date) -> list[dict]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(query, {"day": day, "known": known})
            return [dict(r) for r in cur.fetchall()]
    finally:
        conn.close()


def source_rows(database_urls: Mapping[str, str], day: dt.date, known: dt.date, *,
                drop_orders: Collection[tuple[str, str]] = (),
                drop_lines: Collection[tuple[str, str, int]] = (),
                extra: tuple[list[dict], list[dict]] | None = None
                ) -> tuple[list[dict], list[dict]]:
    """Orders and (kept) lines of `day` at every retailer, tagged with the retailer.

    `drop_orders` (retailer, order id) and `drop_lines` (retailer, order id, line number)
    are left out: records a test poisoned on their way to the pipeline.
    """
    gone_orders, gone_lines = set(drop_orders), set(drop_lines)
    orders, lines = [], []
    for rid, url in database_urls.items():
        orders += [{**r, "retailer_id": rid} for r in _rows(url, ORDERS[rid], day, known)
                   if (rid, str(r["order_id"])) not in gone_orders]
        lines += [{**r, "retailer_id": rid} for r in _rows(url, LINES[rid], day, known)
                  if r["quantity"] >= 0 and (rid, str(r["order_id"])) not in gone_orders
                  and (rid, str(r["order_id"]), r["line_number"]) not in gone_lines]
    if extra is not None:  # a source without a database (retailer4: its events)
        orders += extra[0]
        lines += extra[1]
    return orders, lines


def file_rows(files: Mapping[dt.date, bytes], day: dt.date) -> tuple[list[dict], list[dict]]:
    """retailer5's orders and lines of order date `day`, from the latest sales file of each
    batch date (read with the csv module; its lifecycle is the file's)."""
    from tests.ingestion.files_truth import accepted_lines

    orders: dict[str, dict] = {}
    lines = []
    for batch, body in files.items():
        for (order_id, line_number), r in accepted_lines(body, batch).items():
            if r["created_at"][:10] != day.isoformat():
                continue
            lines.append({"retailer_id": "retailer5", "order_id": order_id,
                          "line_number": line_number, "quantity": int(r["quantity"]),
                          "line_total": Decimal(r["line_total"])})
            orders.setdefault(order_id, {
                "retailer_id": "retailer5", "order_id": order_id,
                "customer_id": r["customer_id"],
                **{k: (dt.datetime.fromisoformat(r[k].replace("Z", "+00:00")) if r[k] else None)
                   for k in ("created_at", "paid_at", "shipped_at", "delivered_at",
                             "canceled_at", "refunded_at")}})
    return list(orders.values()), lines


def expected_marts(conn, database_urls: Mapping[str, str], day: dt.date, known: dt.date,
                   files: Mapping[dt.date, bytes] | None = None,
                   **drop: Collection) -> dict[str, dict[str, dict]]:
    """mart name -> retailer id ('ALL' too) -> column -> value, for `day`.

    `conn` is a psycopg2 connection used as a calculator only: the source rows go into
    temp tables and the answers come from SQL written here, not from the pipeline.
    """
    orders, lines = source_rows(database_urls, day, known, **drop)
    if files:
        more_orders, more_lines = file_rows(files, day)
        orders, lines = orders + more_orders, lines + more_lines
    with conn.cursor() as cur:
        cur.execute("select currency, usd_per_unit from warehouse.fx_rate where rate_date = %s",
                    (day,))
        rates = {c.strip(): Decimal(r) for c, r in cur.fetchall()}
        cur.execute("create temp table t_orders (retailer_id text, order_id text, "
                    "customer_id text, created_at timestamptz, paid_at timestamptz, "
                    "shipped_at timestamptz, delivered_at timestamptz, canceled_at timestamptz,"
                    " refunded_at timestamptz) on commit drop")
        cur.execute("create temp table t_lines (retailer_id text, order_id text, "
                    "quantity int, usd numeric(14,2)) on commit drop")
        psycopg2.extras.execute_values(cur, "insert into t_orders values %s", [
            (o["retailer_id"], o["order_id"], o["customer_id"], o["created_at"], o["paid_at"],
             o["shipped_at"], o["delivered_at"], o["canceled_at"], o["refunded_at"])
            for o in orders])
        cent = Decimal("0.01")
        psycopg2.extras.execute_values(cur, "insert into t_lines values %s", [
            (ln["retailer_id"], ln["order_id"], ln["quantity"],
             (Decimal(str(ln["line_total"])) * rates[CURRENCY[ln["retailer_id"]]])
             .quantize(cent, ROUND_HALF_UP))
            for ln in lines])
        by = "grouping sets ((retailer_id), ())"
        queries = {
            "daily_orders": f"""
                select coalesce(o.retailer_id, 'ALL'), count(*) as orders_created,
                       count(distinct o.retailer_id || ':' || o.customer_id) as customers
                from t_orders o group by {by}""",
            "daily_order_lines": f"""
                select coalesce(retailer_id, 'ALL'), count(*) as order_lines,
                       sum(quantity) as units_sold from t_lines group by {by}""",
            "daily_revenue": """
                select coalesce(l.retailer_id, 'ALL'), sum(l.usd) as gross_revenue_usd,
                       coalesce(sum(l.usd) filter (where o.canceled_at is not null), 0)
                         as canceled_revenue_usd,
                       coalesce(sum(l.usd) filter (where o.refunded_at is not null
                                                   and o.canceled_at is null), 0)
                         as refunded_revenue_usd,
                       coalesce(sum(l.usd) filter (where o.canceled_at is null
                                                   and o.refunded_at is null), 0)
                         as net_revenue_usd
                from t_lines l left join t_orders o using (retailer_id, order_id)
                group by grouping sets ((l.retailer_id), ())""",
            "order_funnel": f"""
                select coalesce(retailer_id, 'ALL'), count(*) as orders_created,
                       count(paid_at) as orders_paid, count(shipped_at) as orders_shipped,
                       count(delivered_at) as orders_delivered,
                       round(count(paid_at)::numeric / count(*), 4) as conversion_rate
                from t_orders group by {by}""",
            "order_cancellations": f"""
                select coalesce(retailer_id, 'ALL'), count(*) as orders_created,
                       count(canceled_at) as orders_canceled,
                       count(refunded_at) as orders_refunded,
                       count(*) filter (where canceled_at is not null or refunded_at is not null)
                         as orders_canceled_or_refunded
                from t_orders group by {by}""",
            "fulfillment_times": f"""
                select coalesce(retailer_id, 'ALL'), count(*) as orders_created,
                       count(shipped_at) as orders_shipped,
                       count(delivered_at) as orders_delivered,
                       {_pct('created_at', 'shipped_at', 0.5)} as created_to_shipped_median_hours,
                       {_pct('created_at', 'shipped_at', 0.9)} as created_to_shipped_p90_hours,
                       {_pct('shipped_at', 'delivered_at', 0.5)}
                         as shipped_to_delivered_median_hours,
                       {_pct('shipped_at', 'delivered_at', 0.9)} as shipped_to_delivered_p90_hours,
                       {_pct('created_at', 'delivered_at', 0.5)}
                         as created_to_delivered_median_hours,
                       {_pct('created_at', 'delivered_at', 0.9)}
                         as created_to_delivered_p90_hours
                from t_orders group by {by}""",
        }
        out: dict[str, dict[str, dict]] = {}
        for name, query in queries.items():
            cur.execute(query)
            cols = [d.name for d in cur.description][1:]
            out[name] = {row[0]: dict(zip(cols, row[1:], strict=True)) for row in cur.fetchall()}
    conn.rollback()
    lines_part = out.pop("daily_order_lines")
    for rid, values in out["daily_orders"].items():
        values.update(lines_part.get(rid, {"order_lines": 0, "units_sold": 0}))
    return out


def _pct(start: str, end: str, fraction: float) -> str:
    return (f"round((percentile_cont({fraction}) within group (order by "
            f"extract(epoch from ({end} - {start}))::float8 / 3600))::numeric, 2)")


def actual_marts(conn, day: dt.date, names) -> dict[str, dict[str, dict]]:
    """The marts as the pipeline wrote them, in the same shape as `expected_marts`."""
    out: dict[str, dict[str, dict]] = {}
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        for name in names:
            cur.execute(f"select * from marts.{name} where order_date = %s", (day,))
            out[name] = {r["retailer_id"]: dict(r) for r in cur.fetchall()}
    conn.rollback()
    return out


def assert_marts_match(conn, database_urls: Mapping[str, str], day: dt.date, known: dt.date,
                       files: Mapping[dt.date, bytes] | None = None,
                       **drop: Collection) -> dict[str, dict[str, dict]]:
    """Every mart of MARTS for `day` equals the answers computed from the retailers' own
    databases (and retailer5's latest `files`): a row per retailer and 'ALL', exact counts,
    money to the cent. Returns the marts as the pipeline wrote them."""
    expected = expected_marts(conn, database_urls, day, known, files=files, **drop)
    actual = actual_marts(conn, day, MARTS)
    loaded = {*database_urls, *(["retailer5"] if files else []), "ALL"}
    for mart in MARTS:
        assert set(actual[mart]) == loaded, mart
        for rid, columns in expected[mart].items():
            for column, value in columns.items():
                got = actual[mart][rid][column]
                if isinstance(value, Decimal | float) or isinstance(got, Decimal):
                    value = None if value is None else Decimal(str(value))
                assert got == value, f"{mart}.{column} for {rid} on {day}: {got} != {value}"
    return actual
