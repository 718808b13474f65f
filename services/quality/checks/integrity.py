"""Referential integrity: facts point at members that exist, of the same retailer.

The fact tables' foreign keys are informational (enforcing them doubles the upsert's
cost), so this is where a dangling key is caught. A missing key is critical: the fact
vanishes from every join in the marts. A key that points at an *inferred* member (created
by a fact before the member's own record arrived, e.g. an unknown SKU) is expected at the
retailers' fault rate; it stays a warning until the member's record completes it.
"""

from __future__ import annotations

from services.quality.checks.base import Scope, Severity, SqlCheck

# (fact, foreign key, dimension, the fact's key columns shown in the sample)
RELATIONSHIPS = [
    ("fact_sales", "product_key", "dim_product", ("order_id", "line_number")),
    ("fact_sales", "customer_key", "dim_customer", ("order_id", "line_number")),
    ("fact_sales", "store_key", "dim_store", ("order_id", "line_number")),
    ("fact_orders", "customer_key", "dim_customer", ("order_id",)),
    ("fact_orders", "store_key", "dim_store", ("order_id",)),
]


def _relationship(fact: str, key: str, dim: str, shown: tuple[str, ...]) -> SqlCheck:
    # Table and column names come from RELATIONSHIPS above, never from input.
    keys = ", ".join(f"f.{column}" for column in shown)
    return SqlCheck(
        name=f"{fact}_{key}_exists", kind="integrity", severity=Severity.CRITICAL,
        scope=Scope.RETAILER_DATE, threshold="0 rows",
        description=f"Every {fact} row of the date has a {key} that exists in "
                    f"warehouse.{dim}, for the same retailer.",
        what=f"{fact} rows with a missing or foreign {key}",
        sql=f"""
            select {keys}, f.{key}, d.retailer_id as member_retailer
            from warehouse.{fact} f
            left join warehouse.{dim} d on d.{key} = f.{key}
            where f.retailer_key = :retailer_key and f.order_date = :run_date
              and (d.{key} is null or d.retailer_id <> :retailer_id)
        """,
    )


fact_sales_order_exists = SqlCheck(
    name="fact_sales_order_exists", kind="integrity", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="0 lines",
    description="Every order line of the date belongs to an order in fact_orders, and both "
                "carry the same order date.",
    what="lines whose order is missing or dated differently",
    sql="""
        select s.order_id, s.line_number, s.order_date as line_order_date,
               o.order_date as order_order_date
        from warehouse.fact_sales s
        left join warehouse.fact_orders o
          on o.retailer_key = s.retailer_key and o.order_id = s.order_id
        where s.retailer_key = :retailer_key and s.order_date = :run_date
          and (o.order_id is null or o.order_date <> s.order_date)
    """,
)

inferred_members_completed = SqlCheck(
    name="inferred_members_completed", kind="integrity", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE, threshold="0 members",
    description="Facts of the date point at no inferred member (a product, customer or "
                "store created from a fact whose own record never arrived).",
    what="inferred members still referenced by the day's facts",
    sql="""
        select 'product' as member, p.product_id as member_id, count(*) as facts
        from warehouse.fact_sales s
        join warehouse.dim_product p on p.product_key = s.product_key
        where s.retailer_key = :retailer_key and s.order_date = :run_date and p.is_inferred
        group by p.product_id
        union all
        select 'customer', c.customer_id, count(*)
        from warehouse.fact_orders o
        join warehouse.dim_customer c on c.customer_key = o.customer_key
        where o.retailer_key = :retailer_key and o.order_date = :run_date and c.is_inferred
        group by c.customer_id
        union all
        select 'store', st.store_id, count(*)
        from warehouse.fact_orders o
        join warehouse.dim_store st on st.store_key = o.store_key
        where o.retailer_key = :retailer_key and o.order_date = :run_date and st.is_inferred
        group by st.store_id
    """,
)

CHECKS = [*(_relationship(*r) for r in RELATIONSHIPS), fact_sales_order_exists,
          inferred_members_completed]
