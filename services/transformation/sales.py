"""fact_sales: one row per order line, written set-based in one statement.

The staged lines (deduplicated) are joined once to their keys, product version and USD
rate and to the fact row they would replace; then, in the same statement, lines that exist
and differ are updated in place (found again by ctid), lines that do not exist are
inserted, and unchanged lines are not touched. This measured faster than
`INSERT ... ON CONFLICT DO UPDATE` (speculative insertion costs on every new row;
docs/warehouse.md, "Load path"), and it tells the old order date of a line that moved.
Loads of one retailer are serialized (an advisory lock in load.py), so nobody else inserts
its keys or moves its rows during the statement.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from services.transformation.compose import assignments, columns
from services.transformation.context import LoadContext

# Compared to decide whether a line changed (everything but the key and the bookkeeping).
COLUMNS = ("order_date", "order_date_key", "created_at", "customer_key", "product_key",
           "store_key", "quantity", "unit_price", "discount", "line_total", "currency",
           "line_total_usd")

NEW_LINES = "create temp table new_lines (order_id text, n integer) on commit drop"

# {columns}, {fact_columns} (f.), {staged_columns} (s.) and {assign} (col = s.col) are
# COLUMNS; {bound} is where write_bounded looks for the existing row.
WRITE_SALES = """
with src as materialized (
  -- each staged line with its keys, and the row it would replace (one probe per line)
  select s.*, f.ctid as row_id, f.order_date as old_date,
         f.ctid is not null and ({fact_columns}) is distinct from ({staged_columns}) as changed
  from (
    select l.order_id, l.line_number, fx.day as order_date, fx.date_key as order_date_key,
           l.created_at, k.customer_key, p.member_key as product_key, k.store_key,
           l.quantity, l.unit_price, l.discount, l.line_total, l.currency,
           round(l.line_total * fx.usd_per_unit, 2) as line_total_usd,
           coalesce(p.is_inferred, false) as product_inferred
    from stg_order_lines l
    join fx on fx.currency = l.currency and fx.day = l.order_date
    left join order_keys k on k.order_id = l.order_id
    -- the product version valid at the line's created_at, or the first for older lines
    left join lk_product p on p.member_id = l.product_id
         and l.created_at < p.valid_to and (l.created_at >= p.valid_from or p.is_first)
  ) s
  left join warehouse.fact_sales f on f.retailer_key = %(retailer_key)s
       and f.order_id = s.order_id and f.line_number = s.line_number
       and {bound}
), upd as (
  update warehouse.fact_sales f
  set {assign}, run_id = %(run_id)s::uuid, loaded_at = now()
  from src s
  -- by ctid: a TID scan of the changed rows only, whatever the planner guesses of them
  where f.ctid = any(array(select row_id from src where changed)) and f.ctid = s.row_id
  returning s.old_date, f.order_date
), ins as (
  insert into warehouse.fact_sales (retailer_key, order_id, line_number, {columns}, run_id)
  select %(retailer_key)s, s.order_id, s.line_number, {staged_columns}, %(run_id)s::uuid
  from src s where s.row_id is null
  returning order_id, order_date
), counted as (
  insert into new_lines (order_id, n) select order_id, count(*) from ins group by order_id
), inferred as (
  -- which dates' marts show a sale of an inferred product (completing it restates them)
  insert into warehouse.inferred_product_date (product_key, order_date)
  select distinct product_key, order_date from src where product_inferred
  on conflict do nothing
)
select 'inserted', order_date, count(*) from ins group by order_date
union all
select 'updated', order_date, count(*) from upd group by order_date
union all
select 'moved', old_date, count(*) from upd where old_date <> order_date group by old_date
"""

SALES_COLUMNS = {"columns": columns(COLUMNS), "fact_columns": columns(COLUMNS, "f"),
                 "staged_columns": columns(COLUMNS, "s"), "assign": assignments(COLUMNS, "s")}


def load_sales(ctx: LoadContext, staged_lines: int) -> None:
    """Write the staged lines; `new_lines` keeps how many each order gained."""
    ctx.execute(NEW_LINES)
    rows = write_bounded(ctx, WRITE_SALES, "stg_order_lines", **SALES_COLUMNS)
    ctx.touch(day for _, day, _ in rows)
    inserted = sum(n for kind, _, n in rows if kind == "inserted")
    updated = sum(n for kind, _, n in rows if kind == "updated")
    ctx.count("fact_sales", inserted, updated, staged_lines - inserted - updated)
    ctx.execute("analyze new_lines")


def write_bounded(ctx: LoadContext, template: str, stage: str,
                  **parts: sql.Composable) -> list[tuple]:
    """Run a fact write that matches staged rows to existing ones, first among the rows of
    the staged days only (an index range, however long the table's history), then, if a
    key exists on another day (a corrected created_at moved it: the insert collides),
    among all of the retailer's rows.

    Args:
        ctx: the load.
        template: the statement, with `{bound}` where the existing row is matched and the
            other `parts` as placeholders.
        stage: the staging table whose days bound the first attempt.
        parts: the template's other placeholders.
    Returns:
        The statement's rows.
    """
    days = [r[0] for r in ctx.rows(
        sql.SQL("select distinct order_date from {}").format(sql.Identifier(stage)))]
    statement = sql.SQL(template)
    try:
        with ctx.cur.connection.transaction():     # a savepoint
            return ctx.rows(statement.format(bound=sql.SQL("f.order_date = any(%(days)s)"),
                                             **parts), {"days": days})
    except psycopg.errors.UniqueViolation:
        return ctx.rows(statement.format(bound=sql.SQL("true"), **parts))
