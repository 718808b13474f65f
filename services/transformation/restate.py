"""A partition that replaces its batch (a file-delivered retailer's batch date).

A file batch is the whole truth of its batch date: a corrected file supersedes the one
loaded before, so afterwards the retailer's facts of that batch are exactly the new file's.
`clear_batch` runs inside the load's transaction before the facts are written: it deletes
the fact_sales and fact_orders rows of the orders the batch loaded last time
(`warehouse.file_batch_order`), within the batch's window of order dates
(batch date - lookback .. batch date), and marks their dates touched, so the marts of every
date the batch had (earlier order dates included) are recomputed with the load's own.
`record_batch`, after the facts, remembers the batch's orders and totals and writes one
audited row to `ops.restatement` when the batch's bytes changed (a correction).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.transformation.context import LoadContext

PREVIOUS = """
select sha256, lines, amount from warehouse.file_batch
where retailer_key = %(retailer_key)s and batch_date = %(run_date)s
"""

CLEAR = """
with batch as (
  select order_id from warehouse.file_batch_order
  where retailer_key = %(retailer_key)s and batch_date = %(run_date)s
), gone_lines as (
  delete from warehouse.fact_sales f using batch b
  where f.retailer_key = %(retailer_key)s and f.order_id = b.order_id
    and f.order_date between %(earliest)s and %(run_date)s
  returning f.order_date, f.line_total
), gone_orders as (
  delete from warehouse.fact_orders f using batch b
  where f.retailer_key = %(retailer_key)s and f.order_id = b.order_id
    and f.order_date between %(earliest)s and %(run_date)s
  returning f.order_date
)
select (select count(*) from gone_lines), (select coalesce(sum(line_total), 0) from gone_lines),
       (select count(*) from gone_orders),
       array(select order_date from gone_lines union select order_date from gone_orders)
"""

# Two statements: a delete and an insert of the same keys in one statement would see the
# rows before the delete (and skip them as conflicts).
REMOVED_ORDERS = """
select count(*) from warehouse.file_batch_order b
where b.retailer_key = %(retailer_key)s and b.batch_date = %(run_date)s
  and not exists (select 1 from stg_orders o where o.order_id = b.order_id)
  and not exists (select 1 from stg_order_lines l where l.order_id = b.order_id)
"""

FORGET_ORDERS = """
delete from warehouse.file_batch_order
where retailer_key = %(retailer_key)s and batch_date = %(run_date)s
"""

REMEMBER_ORDERS = """
insert into warehouse.file_batch_order (retailer_key, batch_date, order_id)
select distinct %(retailer_key)s, %(run_date)s, order_id
from (select order_id from stg_orders union select order_id from stg_order_lines) o
on conflict do nothing
"""

TOTALS = """
select count(*), coalesce(sum(f.line_total), 0)
from warehouse.fact_sales f
join warehouse.file_batch_order b on b.retailer_key = f.retailer_key and b.order_id = f.order_id
where b.retailer_key = %(retailer_key)s and b.batch_date = %(run_date)s
  and f.order_date between %(earliest)s and %(run_date)s
"""

UPSERT_BATCH = """
insert into warehouse.file_batch (retailer_key, batch_date, sha256, run_id, lines, amount)
values (%(retailer_key)s, %(run_date)s, %(sha256)s, %(run_id)s::uuid, %(lines)s, %(amount)s)
on conflict on constraint file_batch_pk do update
  set sha256 = excluded.sha256, run_id = excluded.run_id, lines = excluded.lines,
      amount = excluded.amount, loaded_at = now()
"""

AUDIT = """
insert into ops.restatement (retailer_id, batch_date, run_id, requested_by, sha256_before,
                             sha256_after, lines_before, lines_after, amount_before,
                             amount_after, orders_removed, dates_touched)
values (%(retailer_id)s, %(run_date)s, %(run_id)s::uuid, %(requested_by)s, %(sha_before)s,
        %(sha256)s, %(lines_before)s, %(lines)s, %(amount_before)s, %(amount)s,
        %(orders_removed)s, %(dates)s)
"""


@dataclass
class Cleared:
    """What the batch held before this load."""

    sha256: str | None = None
    lines: int = 0
    amount: Decimal = Decimal("0")
    orders: int = 0
    dates: set[dt.date] = field(default_factory=set)


def batch_of(manifest: Any) -> dict[str, Any] | None:
    """The manifest's `batch` (a file batch that replaces its date), or None."""
    batch = (manifest.model_extra or {}).get("batch")
    return batch if isinstance(batch, dict) and batch.get("replaces_batch") else None


def _window(ctx: LoadContext, batch: dict[str, Any]) -> dict[str, Any]:
    return {"earliest": ctx.run_date - dt.timedelta(days=int(batch.get("lookback_days", 7)))}


def clear_batch(ctx: LoadContext, batch: dict[str, Any]) -> Cleared:
    """Delete the facts the batch date loaded last time; touch their dates."""
    previous = ctx.execute(PREVIOUS).fetchone()
    lines, amount, orders, dates = ctx.one(CLEAR, _window(ctx, batch))
    ctx.touch(dates)
    return Cleared(previous[0] if previous else None, int(lines), Decimal(amount), int(orders),
                   set(dates))


def record_batch(ctx: LoadContext, batch: dict[str, Any], before: Cleared) -> dict[str, Any]:
    """Remember the batch's orders and totals; audit a correction. Returns the counts."""
    removed = ctx.scalar(REMOVED_ORDERS)
    ctx.execute(FORGET_ORDERS)
    ctx.execute(REMEMBER_ORDERS)
    lines, amount = ctx.one(TOTALS, _window(ctx, batch))
    params = {"sha256": batch["sha256"], "lines": int(lines), "amount": amount}
    ctx.execute(UPSERT_BATCH, params)
    restated = before.sha256 is not None and before.sha256 != batch["sha256"]
    if restated:
        ctx.execute(AUDIT, {**params, "requested_by": batch.get("requested_by"),
                            "sha_before": before.sha256, "lines_before": before.lines,
                            "amount_before": before.amount, "orders_removed": int(removed),
                            "dates": sorted(before.dates | ctx.touched_dates)})
    return {"restated": restated, "lines_before": before.lines, "lines_after": int(lines),
            "amount_before": str(before.amount), "amount_after": str(amount),
            "orders_removed": int(removed)}
