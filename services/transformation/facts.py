"""fact_orders (accumulating snapshot) and fact_sales (order lines), set-based.

Order of work, inside the partition's transaction, after the dimensions:
1. lookups: FX rate per currency and day, the customer/product versions the staged facts
   name (with the first-version fallback, see scd2.py), the keys of every staged order;
2. fact_orders: staged orders upserted with their milestones from this partition's events
   and from events kept pending for them; events of orders loaded earlier update those
   orders; events of orders not loaded yet are kept in warehouse.pending_order_event;
3. fact_sales: staged lines upserted; an unchanged line is not written (IS DISTINCT FROM);
4. fact_orders.line_count for the orders whose lines were written.
Milestones only move earlier (`least`) and a status only moves forward
(`warehouse.order_status_max`), so loading partitions in any order ends the same.
"""

from __future__ import annotations

from psycopg import sql

from services.transformation.context import LoadContext

ORDER_DAY = "(created_at at time zone 'UTC')::date"

FX = f"""
create temp table fx on commit drop as
select c.currency, c.day, to_char(c.day, 'YYYYMMDD')::int as date_key,
       (select r.usd_per_unit from warehouse.fx_rate r
        where r.currency = c.currency and r.rate_date <= c.day
        order by r.rate_date desc limit 1) as usd_per_unit
from (select currency, {ORDER_DAY} as day from stg_orders
      union
      select currency, {ORDER_DAY} from stg_order_lines) c
"""


class MissingFxRate(Exception):
    """No USD rate on or before an order's day for its currency."""


LOOKUP = """
create temp table {lookup} on commit drop as
select d.{id} as member_id, d.{key} as member_key, d.valid_from, d.valid_to, d.is_inferred,
       row_number() over (partition by d.{id} order by d.valid_from) = 1 as is_first
from warehouse.{dim} d
where d.retailer_id = %(retailer_id)s and d.{id} in (select distinct {id} from {source})
"""


def lookup_sql(dim: str, id_column: str, key_column: str, source: str) -> sql.Composed:
    """The versions of the members that staged facts name, with the first-version flag."""
    return sql.SQL(LOOKUP).format(
        lookup=sql.Identifier(f"lk_{dim}"), dim=sql.Identifier(f"dim_{dim}"),
        id=sql.Identifier(id_column), key=sql.Identifier(key_column),
        source=sql.Identifier(source))


# The version valid at the fact's created_at, or the first one for older facts.
VERSION_MATCH = ("{t}.created_at < {v}.valid_to "
                 "and ({t}.created_at >= {v}.valid_from or {v}.is_first)")

ORDER_KEYS = f"""
create temp table order_keys on commit drop as
select o.order_id, c.member_key as customer_key, s.store_key
from stg_orders o
left join lk_customer c on c.member_id = o.customer_id
     and {VERSION_MATCH.format(t="o", v="c")}
left join warehouse.dim_store s on s.retailer_id = %(retailer_id)s and s.store_id = o.store_id
"""

# Lines of orders that are not in this partition take their keys from fact_orders.
ORDER_KEYS_OF_EARLIER_ORDERS = """
insert into order_keys (order_id, customer_key, store_key)
select f.order_id, f.customer_key, f.store_key
from warehouse.fact_orders f
join (select distinct l.order_id from stg_order_lines l
      where not exists (select 1 from stg_orders o where o.order_id = l.order_id)) m
  on m.order_id = f.order_id
where f.retailer_key = %(retailer_key)s
"""

# Orders whose corrected created_at moves them to another day leave their old day too.
MOVED_ORDER_DATES = """
select distinct f.order_date
from stg_orders o
join warehouse.fact_orders f on f.retailer_key = %(retailer_key)s and f.order_id = o.order_id
where f.order_date <> (o.created_at at time zone 'UTC')::date
"""

MILESTONES = ("paid", "shipped", "delivered", "canceled", "refunded")


def _pivot(events: str) -> str:
    cols = ",\n         ".join(
        f"min(occurred_at) filter (where event_type = '{m}') as {m}_at" for m in MILESTONES)
    return f"select order_id,\n         {cols}\n  from ({events}) e group by order_id"


_LEAST = ", ".join(f"least(f.{m}_at, excluded.{m}_at)" for m in MILESTONES)
_OLD = ", ".join(f"f.{m}_at" for m in MILESTONES)
_MERGE_MILESTONES = ", ".join(f"{m}_at = least(f.{m}_at, excluded.{m}_at)" for m in MILESTONES)
_EV = ", ".join(f"ev.{m}_at" for m in MILESTONES)

UPSERT_ORDERS = f"""
with ev as (
  {_pivot('''select order_id, event_type, occurred_at from stg_order_events
             union all
             select p.order_id, p.event_type, p.occurred_at
             from warehouse.pending_order_event p
             where p.retailer_key = %(retailer_key)s
               and p.order_id in (select order_id from stg_orders)''')}
), up as (
  insert into warehouse.fact_orders as f (
    retailer_key, order_id, order_date, order_date_key, customer_key, store_key, status,
    created_at, paid_at, shipped_at, delivered_at, canceled_at, refunded_at, line_count,
    order_total, order_total_usd, currency, run_id)
  select %(retailer_key)s, o.order_id, fx.day, fx.date_key, k.customer_key, k.store_key,
         warehouse.order_status_of(o.status, {_EV}),
         o.created_at, {_EV}, 0, o.order_total, round(o.order_total * fx.usd_per_unit, 2),
         o.currency, %(run_id)s::uuid
  from stg_orders o
  join order_keys k on k.order_id = o.order_id
  join fx on fx.currency = o.currency and fx.day = (o.created_at at time zone 'UTC')::date
  left join ev on ev.order_id = o.order_id
  on conflict on constraint fact_orders_pk do update
    set order_date = excluded.order_date, order_date_key = excluded.order_date_key,
        customer_key = excluded.customer_key, store_key = excluded.store_key,
        created_at = excluded.created_at, order_total = excluded.order_total,
        order_total_usd = excluded.order_total_usd, currency = excluded.currency,
        status = warehouse.order_status_max(f.status, excluded.status),
        {_MERGE_MILESTONES},
        run_id = excluded.run_id, updated_at = now()
    where (f.order_date, f.customer_key, f.store_key, f.created_at, f.order_total,
           f.order_total_usd, f.currency, f.status, {_OLD})
          is distinct from
          (excluded.order_date, excluded.customer_key, excluded.store_key,
           excluded.created_at, excluded.order_total, excluded.order_total_usd,
           excluded.currency, warehouse.order_status_max(f.status, excluded.status), {_LEAST})
  returning (xmax = 0) as inserted, order_date
)
select order_date, count(*) filter (where inserted), count(*) filter (where not inserted)
from up group by order_date
"""

_EV_LEAST = ", ".join(f"least(f.{m}_at, ev.{m}_at)" for m in MILESTONES)

# Events of orders loaded by earlier partitions (a shipment two days after the order).
APPLY_LATE_EVENTS = f"""
with ev as (
  {_pivot('''select e.order_id, e.event_type, e.occurred_at from stg_order_events e
             where not exists (select 1 from stg_orders o where o.order_id = e.order_id)''')}
), up as (
  update warehouse.fact_orders f
  set {", ".join(f"{m}_at = least(f.{m}_at, ev.{m}_at)" for m in MILESTONES)},
      status = warehouse.order_status_max(
                 f.status, warehouse.order_status_of(null, {_EV})),
      run_id = %(run_id)s::uuid, updated_at = now()
  from ev
  where f.retailer_key = %(retailer_key)s and f.order_id = ev.order_id
    and ({_OLD}) is distinct from ({_EV_LEAST})
  returning f.order_date
)
select order_date, count(*) from up group by order_date
"""

# Events of orders that are nowhere yet wait for them.
KEEP_PENDING_EVENTS = """
with waiting as (
  select e.order_id, e.event_type, e.occurred_at from stg_order_events e
  where e.event_type in ('paid', 'shipped', 'delivered', 'canceled', 'refunded')
    and not exists (select 1 from stg_orders o where o.order_id = e.order_id)
), up as (
  insert into warehouse.pending_order_event as p (retailer_key, order_id, event_type,
                                                  occurred_at, source_date, run_id)
  select %(retailer_key)s, w.order_id, w.event_type, w.occurred_at, %(run_date)s,
         %(run_id)s::uuid
  from waiting w
  where not exists (select 1 from warehouse.fact_orders f
                    where f.retailer_key = %(retailer_key)s and f.order_id = w.order_id)
  on conflict on constraint pending_order_event_pk do update
    set occurred_at = excluded.occurred_at, source_date = excluded.source_date,
        run_id = excluded.run_id, loaded_at = now()
    where excluded.occurred_at < p.occurred_at
  returning (xmax = 0) as inserted
)
select count(*) filter (where inserted), count(*) filter (where not inserted),
       (select count(*) from waiting)
from up
"""

APPLIED_PENDING_EVENTS = """
delete from warehouse.pending_order_event p
where p.retailer_key = %(retailer_key)s and p.order_id in (select order_id from stg_orders)
"""

_SALES_COLS = ("order_date", "created_at", "customer_key", "product_key", "store_key",
               "quantity", "unit_price", "discount", "line_total", "currency",
               "line_total_usd")

UPSERT_SALES = f"""
with up as (
  insert into warehouse.fact_sales as f (
    retailer_key, order_id, line_number, order_date, order_date_key, created_at,
    customer_key, product_key, store_key, quantity, unit_price, discount, line_total,
    currency, line_total_usd, run_id)
  select %(retailer_key)s, l.order_id, l.line_number, fx.day, fx.date_key, l.created_at,
         k.customer_key, p.member_key, k.store_key, l.quantity, l.unit_price, l.discount,
         l.line_total, l.currency, round(l.line_total * fx.usd_per_unit, 2),
         %(run_id)s::uuid
  from stg_order_lines l
  join fx on fx.currency = l.currency and fx.day = (l.created_at at time zone 'UTC')::date
  left join order_keys k on k.order_id = l.order_id
  left join lk_product p on p.member_id = l.product_id and {VERSION_MATCH.format(t="l", v="p")}
  on conflict on constraint fact_sales_pk do update
    set {", ".join(f"{c} = excluded.{c}" for c in _SALES_COLS)},
        order_date_key = excluded.order_date_key, run_id = excluded.run_id,
        loaded_at = now()
    where ({", ".join(f"f.{c}" for c in _SALES_COLS)})
          is distinct from ({", ".join(f"excluded.{c}" for c in _SALES_COLS)})
  returning (xmax = 0) as inserted, order_date
)
select order_date, count(*) filter (where inserted), count(*) filter (where not inserted)
from up group by order_date
"""

# Which dates' marts show a sale of an inferred product (completing it restates them).
INFERRED_PRODUCT_DATES = """
insert into warehouse.inferred_product_date (product_key, order_date)
select distinct p.member_key, (l.created_at at time zone 'UTC')::date
from stg_order_lines l
join lk_product p on p.member_id = l.product_id and p.is_inferred
on conflict do nothing
"""

# line_count = the order's lines in fact_sales, for the orders whose lines were staged.
COUNT_STAGED_LINES = """
with c as (
  select s.order_id, count(*) as n from warehouse.fact_sales s
  where s.retailer_key = %(retailer_key)s and s.order_date = any(%(line_dates)s)
    and s.order_id in (select order_id from stg_order_lines)
  group by s.order_id
)
update warehouse.fact_orders f set line_count = c.n, run_id = %(run_id)s::uuid,
       updated_at = now()
from c where f.retailer_key = %(retailer_key)s and f.order_id = c.order_id
  and f.line_count <> c.n
returning f.order_date
"""

# Orders staged without lines: their lines, if any arrived before them, get the order's
# customer and store, and the order its line count.
ORDERS_WITHOUT_STAGED_LINES = """
create temp table lone_orders on commit drop as
select o.order_id from stg_orders o
where not exists (select 1 from stg_order_lines l where l.order_id = o.order_id)
"""

KEYS_OF_EARLIER_LINES = """
update warehouse.fact_sales s set customer_key = k.customer_key, store_key = k.store_key,
       run_id = %(run_id)s::uuid, loaded_at = now()
from lone_orders lo join order_keys k on k.order_id = lo.order_id
where s.retailer_key = %(retailer_key)s and s.order_id = lo.order_id
  and (s.customer_key, s.store_key) is distinct from (k.customer_key, k.store_key)
returning s.order_date
"""

COUNT_EARLIER_LINES = """
with c as (
  select s.order_id, count(*) as n from warehouse.fact_sales s
  join lone_orders lo on lo.order_id = s.order_id
  where s.retailer_key = %(retailer_key)s group by s.order_id
)
update warehouse.fact_orders f set line_count = c.n, run_id = %(run_id)s::uuid,
       updated_at = now()
from c where f.retailer_key = %(retailer_key)s and f.order_id = c.order_id
  and f.line_count <> c.n
returning f.order_date
"""


def build_lookups(ctx: LoadContext) -> None:
    """FX rates, dimension versions and order keys for the staged facts."""
    ctx.execute(FX)
    missing = ctx.rows("select currency, day from fx where usd_per_unit is null limit 5")
    if missing:
        raise MissingFxRate(f"no USD rate on or before {missing} in warehouse.fx_rate")
    ctx.execute(lookup_sql("customer", "customer_id", "customer_key", "stg_orders"))
    ctx.execute(lookup_sql("product", "product_id", "product_key", "stg_order_lines"))
    ctx.execute(ORDER_KEYS)
    ctx.execute(ORDER_KEYS_OF_EARLIER_ORDERS)
    for table in ("fx", "lk_customer", "lk_product", "order_keys"):
        ctx.execute(sql.SQL("analyze {}").format(sql.Identifier(table)))


def _sum_by_date(ctx: LoadContext, rows: list[tuple]) -> tuple[int, int]:
    ctx.touch(r[0] for r in rows)
    return sum(r[1] for r in rows), sum(r[2] for r in rows)


def load_orders(ctx: LoadContext, staged_orders: int) -> None:
    """Upsert fact_orders, apply late events, keep events whose order is not here yet."""
    ctx.touch(r[0] for r in ctx.rows(MOVED_ORDER_DATES))
    inserted, updated = _sum_by_date(ctx, ctx.rows(UPSERT_ORDERS))
    unchanged = staged_orders - inserted - updated
    late = ctx.rows(APPLY_LATE_EVENTS)
    ctx.touch(r[0] for r in late)
    ctx.count("fact_orders", inserted, updated + sum(r[1] for r in late), unchanged)
    applied = ctx.execute(APPLIED_PENDING_EVENTS).rowcount
    new, moved_earlier, waiting = ctx.execute(KEEP_PENDING_EVENTS).fetchone()
    ctx.count("pending_order_event", new, moved_earlier, 0, applied=applied,
              unmatched_events=waiting)


def load_sales(ctx: LoadContext, staged_lines: int) -> None:
    """Upsert fact_sales and keep fact_orders.line_count in step with it."""
    rows = ctx.rows(UPSERT_SALES)
    inserted, updated = _sum_by_date(ctx, rows)
    ctx.count("fact_sales", inserted, updated, staged_lines - inserted - updated)
    ctx.execute(INFERRED_PRODUCT_DATES)
    line_dates = [r[0] for r in ctx.rows(
        "select distinct (created_at at time zone 'UTC')::date from stg_order_lines")]
    if line_dates:
        ctx.touch(r[0] for r in ctx.rows(COUNT_STAGED_LINES, {"line_dates": line_dates}))
    ctx.execute(ORDERS_WITHOUT_STAGED_LINES)
    if ctx.scalar("select count(*) from lone_orders"):
        ctx.touch(r[0] for r in ctx.rows(KEYS_OF_EARLIER_LINES))
        ctx.touch(r[0] for r in ctx.rows(COUNT_EARLIER_LINES))
