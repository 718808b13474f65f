"""Business rules: what must hold inside one fact row.

Severities follow who can be at fault. A line whose total does not add up is loaded as
the retailer reported it (its control totals count it the same way), and a lifecycle
that runs backwards comes from the retailer's own clock: both are the retailer's data,
flagged as warnings. A non-positive quantity or an unknown status should have been
rejected at normalization, so one in the warehouse means our pipeline broke: critical.
"""

from __future__ import annotations

from services.quality.checks.base import Scope, Severity, SqlCheck
from shared.canonical import ORDER_STATUSES

line_total_matches = SqlCheck(
    name="line_total_matches", kind="business_rule", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE, threshold="0 lines off by more than 0.01",
    description="line_total = quantity x unit_price - discount, within a cent, for every "
                "order line of the date.",
    what="lines whose total is not quantity x unit price - discount",
    sql="""
        select s.order_id, s.line_number, s.quantity, s.unit_price, s.discount, s.line_total,
               s.quantity * s.unit_price - s.discount as expected_total
        from warehouse.fact_sales s
        where s.retailer_key = :retailer_key and s.order_date = :run_date
          and abs(s.line_total - (s.quantity * s.unit_price - s.discount)) > 0.01
    """,
)

quantity_positive = SqlCheck(
    name="quantity_positive", kind="business_rule", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="0 lines",
    description="Every order line of the date has a positive quantity (negative ones must "
                "have been rejected at ingestion).",
    what="lines with a quantity of zero or less",
    sql="""
        select s.order_id, s.line_number, s.quantity
        from warehouse.fact_sales s
        where s.retailer_key = :retailer_key and s.order_date = :run_date and s.quantity <= 0
    """,
)

order_lifecycle_ordered = SqlCheck(
    name="order_lifecycle_ordered", kind="business_rule", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE, threshold="0 orders",
    description="Each order's milestones run forward: created <= paid <= shipped <= "
                "delivered (a missing milestone is skipped over).",
    what="orders whose milestones run backwards",
    sql="""
        select o.order_id, o.created_at, o.paid_at, o.shipped_at, o.delivered_at
        from warehouse.fact_orders o
        where o.retailer_key = :retailer_key and o.order_date = :run_date
          and (o.paid_at < o.created_at
               or o.shipped_at < coalesce(o.paid_at, o.created_at)
               or o.delivered_at < coalesce(o.shipped_at, o.paid_at, o.created_at))
    """,
)

# The statuses are constants of the canonical model, written into the SQL as literals so
# the stored definition shows the exact list it checked against.
_STATUSES = ", ".join(f"'{s}'" for s in ORDER_STATUSES)

order_status_valid = SqlCheck(
    name="order_status_valid", kind="business_rule", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="0 orders",
    description="Every order of the date has a status of the canonical model "
                f"({', '.join(ORDER_STATUSES)}).",
    what="orders with a status outside the canonical model",
    sql=f"""
        select o.order_id, o.status
        from warehouse.fact_orders o
        where o.retailer_key = :retailer_key and o.order_date = :run_date
          and o.status not in ({_STATUSES})
    """,
)

CHECKS = [line_total_matches, quantity_positive, order_lifecycle_ordered, order_status_valid]
