"""fact_orders: the accumulating snapshot, one row per order, milestones filled in as they
arrive.

- Staged orders are written with the milestones of this partition's events and of the
  events kept pending for them (update in place when changed, insert when new).
- Events of orders loaded by earlier partitions update those orders (a shipment two days
  after the order); events of orders nobody has loaded yet wait in
  warehouse.pending_order_event and are applied when the order arrives.
- line_count grows by the lines fact_sales gained (`new_lines`, from sales.py); lines that
  arrive before their order wait as a count in warehouse.pending_order_line.
Milestones only move earlier (`least`) and a status only moves forward
(`warehouse.order_status_max`), so partitions loaded in any order give the same row.
"""

from __future__ import annotations

from psycopg import sql

from services.transformation.compose import (
    assignments,
    columns,
    earliest,
    earliest_assignments,
)
from services.transformation.context import LoadContext
from services.transformation.sales import write_bounded

MILESTONES = ("paid", "shipped", "delivered", "canceled", "refunded")
MILESTONE_AT = tuple(f"{m}_at" for m in MILESTONES)

# The order's own fields: a later partition's staged order replaces them.
KEEP = ("order_date", "order_date_key", "customer_key", "store_key", "created_at",
        "order_total", "order_total_usd", "currency")


def pivot(events: str) -> sql.Composed:
    """One row per order with the earliest occurrence of each milestone among `events`."""
    firsts = sql.SQL(", ").join(
        sql.SQL("min(occurred_at) filter (where event_type = {}) as {}").format(
            sql.Literal(m), sql.Identifier(at))
        for m, at in zip(MILESTONES, MILESTONE_AT, strict=True))
    return sql.SQL("select order_id, {} from ({}) e group by order_id").format(
        firsts, sql.SQL(events))


# {ev} pivots this partition's events and the pending ones of its orders; {keep} and {at}
# (with a table prefix: {f_keep}, {s_keep}, {f_at}, {s_at}, {ev_at}) are KEEP and
# MILESTONE_AT; {bound} is where write_bounded looks for the existing row.
WRITE_ORDERS = """
with ev as (
  {ev}
), waiting_lines as (
  select p.order_id, p.lines from warehouse.pending_order_line p
  where p.retailer_key = %(retailer_key)s and p.order_id in (select order_id from stg_orders)
), src as materialized (
  select s.*, f.ctid as row_id, f.order_date as old_date,
         f.ctid is not null
           and (s.added_lines <> 0
                or ({f_keep}, f.status, {f_at})
                   is distinct from
                   ({s_keep}, warehouse.order_status_max(f.status, s.status), {f_s_earliest}))
             as changed
  from (
    select o.order_id, fx.day as order_date, fx.date_key as order_date_key, k.customer_key,
           k.store_key, o.created_at, o.order_total,
           round(o.order_total * fx.usd_per_unit, 2) as order_total_usd, o.currency,
           warehouse.order_status_of(o.status, {ev_at}) as status, {ev_at},
           coalesce(nl.n, 0) + coalesce(w.lines, 0) as added_lines
    from stg_orders o
    join order_keys k on k.order_id = o.order_id
    join fx on fx.currency = o.currency and fx.day = o.order_date
    left join ev on ev.order_id = o.order_id
    left join new_lines nl on nl.order_id = o.order_id
    left join waiting_lines w on w.order_id = o.order_id
  ) s
  left join warehouse.fact_orders f on f.retailer_key = %(retailer_key)s and f.order_id = s.order_id
       and {bound}
), upd as (
  update warehouse.fact_orders f
  set {assign_keep}, status = warehouse.order_status_max(f.status, s.status), {assign_at},
      line_count = f.line_count + s.added_lines, run_id = %(run_id)s::uuid, updated_at = now()
  from src s
  where f.ctid = any(array(select row_id from src where changed)) and f.ctid = s.row_id
  returning s.old_date, f.order_date
), ins as (
  insert into warehouse.fact_orders (retailer_key, order_id, {keep}, status, {at}, line_count,
                                     run_id)
  select %(retailer_key)s, s.order_id, {s_keep}, s.status, {s_at}, s.added_lines,
         %(run_id)s::uuid
  from src s where s.row_id is null
  returning order_date
)
select 'inserted', order_date, count(*) from ins group by order_date
union all
select 'updated', order_date, count(*) from upd group by order_date
union all
select 'moved', old_date, count(*) from upd where old_date <> order_date group by old_date
"""

WRITE_ORDERS_PARTS: dict[str, sql.Composable] = {
    "ev": pivot("""select order_id, event_type, occurred_at from stg_order_events
             union all
             select p.order_id, p.event_type, p.occurred_at
             from warehouse.pending_order_event p
             where p.retailer_key = %(retailer_key)s
               and p.order_id in (select order_id from stg_orders)"""),
    "keep": columns(KEEP), "f_keep": columns(KEEP, "f"), "s_keep": columns(KEEP, "s"),
    "at": columns(MILESTONE_AT), "f_at": columns(MILESTONE_AT, "f"),
    "s_at": columns(MILESTONE_AT, "s"), "ev_at": columns(MILESTONE_AT, "ev"),
    "f_s_earliest": earliest(MILESTONE_AT, "f", "s"),
    "assign_keep": assignments(KEEP, "s"),
    "assign_at": earliest_assignments(MILESTONE_AT, "f", "s"),
}

# Applied to the staged orders above: no longer pending.
DELETE_APPLIED = """
with e as (
  delete from warehouse.pending_order_event p
  where p.retailer_key = %(retailer_key)s and p.order_id in (select order_id from stg_orders)
  returning 1
), l as (
  delete from warehouse.pending_order_line p
  where p.retailer_key = %(retailer_key)s and p.order_id in (select order_id from stg_orders)
  returning 1
)
select (select count(*) from e), (select count(*) from l)
"""

# Events and new lines of orders loaded by earlier partitions, one row per order. Kept in a
# table of its own (and analyzed) because the planner cannot estimate it: in one statement
# with the update below, a first load (its fact_orders rows inserted by this transaction,
# unseen by the statistics) was planned as a nested loop that rebuilt these changes once per
# order of the retailer: 0.24 s for 1k orders, 0.9 s for 2k, growing with the square.
EARLIER_CHANGES = sql.SQL("""
create temp table earlier_changes on commit drop as
with ev as (
  {ev}
), lines as (
  select nl.order_id, nl.n from new_lines nl
  where not exists (select 1 from stg_orders o where o.order_id = nl.order_id)
)
select coalesce(ev.order_id, lines.order_id) as order_id, {ev_at},
       coalesce(lines.n, 0) as added_lines
from ev full join lines on lines.order_id = ev.order_id
""").format(
    ev=pivot("""select e.order_id, e.event_type, e.occurred_at from stg_order_events e
             where not exists (select 1 from stg_orders o where o.order_id = e.order_id)"""),
    ev_at=columns(MILESTONE_AT, "ev"))

UPDATE_EARLIER_ORDERS = sql.SQL("""
with up as (
  update warehouse.fact_orders f
  set {assign_at},
      status = warehouse.order_status_max(f.status, warehouse.order_status_of(null, {ev_at})),
      line_count = f.line_count + ev.added_lines, run_id = %(run_id)s::uuid, updated_at = now()
  from earlier_changes ev
  where f.retailer_key = %(retailer_key)s and f.order_id = ev.order_id
    and (ev.added_lines <> 0 or ({f_at}) is distinct from ({f_ev_earliest}))
  returning f.order_date
)
select order_date, count(*) from up group by order_date
""").format(
    ev_at=columns(MILESTONE_AT, "ev"), f_at=columns(MILESTONE_AT, "f"),
    assign_at=earliest_assignments(MILESTONE_AT, "f", "ev"),
    f_ev_earliest=earliest(MILESTONE_AT, "f", "ev"))

# Events and lines of orders that are nowhere yet wait for them.
KEEP_PENDING_EVENTS = """
with waiting as (
  select e.order_id, e.event_type, e.occurred_at from stg_order_events e
  where e.event_type in ('paid', 'shipped', 'delivered', 'canceled', 'refunded')
    and not exists (select 1 from stg_orders o where o.order_id = e.order_id)
    and not exists (select 1 from warehouse.fact_orders f
                    where f.retailer_key = %(retailer_key)s and f.order_id = e.order_id)
), up as (
  insert into warehouse.pending_order_event as p (retailer_key, order_id, event_type,
                                                  occurred_at, source_date, run_id)
  select %(retailer_key)s, w.order_id, w.event_type, w.occurred_at, %(run_date)s,
         %(run_id)s::uuid
  from waiting w
  on conflict on constraint pending_order_event_pk do update
    set occurred_at = excluded.occurred_at, source_date = excluded.source_date,
        run_id = excluded.run_id, loaded_at = now()
    where excluded.occurred_at < p.occurred_at
  returning (xmax = 0) as inserted
)
select count(*) filter (where inserted), count(*) filter (where not inserted) from up
"""

KEEP_PENDING_LINES = """
insert into warehouse.pending_order_line as p (retailer_key, order_id, lines, source_date,
                                               run_id)
select %(retailer_key)s, nl.order_id, nl.n, %(run_date)s, %(run_id)s::uuid
from new_lines nl
where not exists (select 1 from stg_orders o where o.order_id = nl.order_id)
  and not exists (select 1 from warehouse.fact_orders f
                  where f.retailer_key = %(retailer_key)s and f.order_id = nl.order_id)
on conflict on constraint pending_order_line_pk do update
  set lines = p.lines + excluded.lines, source_date = excluded.source_date,
      run_id = excluded.run_id, loaded_at = now()
"""

# Orders staged without lines whose lines arrived earlier: the lines get the order's
# customer and store.
KEYS_OF_EARLIER_LINES = """
update warehouse.fact_sales s set customer_key = k.customer_key, store_key = k.store_key,
       run_id = %(run_id)s::uuid, loaded_at = now()
from order_keys k
where s.retailer_key = %(retailer_key)s and s.order_id = k.order_id
  and k.order_id in (select w.order_id from waiting_orders w)
  and (s.customer_key, s.store_key) is distinct from (k.customer_key, k.store_key)
returning s.order_date
"""


def load_orders(ctx: LoadContext, staged_orders: int) -> None:
    """Write fact_orders after fact_sales (which filled `new_lines`)."""
    # Orders whose lines waited for them (their lines may lack the order's keys).
    ctx.execute("create temp table waiting_orders on commit drop as "
                "select order_id from warehouse.pending_order_line "
                "where retailer_key = %(retailer_key)s "
                "and order_id in (select order_id from stg_orders)")
    rows = write_bounded(ctx, WRITE_ORDERS, "stg_orders", **WRITE_ORDERS_PARTS)
    ctx.touch(day for _, day, _ in rows)
    inserted = sum(n for kind, _, n in rows if kind == "inserted")
    updated = sum(n for kind, _, n in rows if kind == "updated")
    events_applied, lines_applied = ctx.one(DELETE_APPLIED)
    earlier: list[tuple] = []
    if ctx.execute(EARLIER_CHANGES).rowcount:
        ctx.execute("analyze earlier_changes")
        earlier = ctx.rows(UPDATE_EARLIER_ORDERS)
    ctx.touch(day for day, _ in earlier)
    ctx.count("fact_orders", inserted, updated + sum(n for _, n in earlier),
              staged_orders - inserted - updated)
    new_events, earlier_events = ctx.one(KEEP_PENDING_EVENTS)
    ctx.count("pending_order_event", new_events, earlier_events, 0, applied=events_applied)
    waiting_lines = ctx.execute(KEEP_PENDING_LINES).rowcount
    ctx.count("pending_order_line", waiting_lines, 0, 0, applied=lines_applied)
    if lines_applied:
        ctx.touch(r[0] for r in ctx.rows(KEYS_OF_EARLIER_LINES))
