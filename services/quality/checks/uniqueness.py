"""Uniqueness of natural keys: one current version per dimension member, one fact per key.

The database enforces exact keys (primary keys, the partial "one current version" index).
What it cannot enforce is checked here: SCD2 versions whose validity ranges overlap (two
versions true at the same instant) or members with no current version, and the same
order or line stored twice under two spellings of its id. Any of them double-counts
revenue, so all are critical.
"""

from __future__ import annotations

from services.quality.checks.base import Scope, Severity, SqlCheck


def _scd2_versions(dim: str, member: str, noun: str) -> SqlCheck:
    # `dim` and `member` are constants of this module, never input: safe to interpolate.
    # Only the members whose versions this run wrote (every write of a version stamps the
    # run) are compared, each through its versions' index: the check costs the run's
    # changes, not the dimension's years of history. A member no run wrote since the
    # check last passed cannot have changed.
    return SqlCheck(
        name=f"{dim}_versions_unique", kind="uniqueness", severity=Severity.CRITICAL,
        scope=Scope.RETAILER_DATE, threshold="0 members",
        description=f"Each {noun} of the retailer whose versions the run wrote has exactly "
                    f"one current version in warehouse.{dim}, and no two of its versions "
                    f"are valid at the same time.",
        what=f"{noun}s with overlapping versions or not exactly one current version",
        sql=f"""
            with written as materialized (
                select distinct {member} from warehouse.{dim}
                where retailer_id = :retailer_id and run_id = cast(:run_id as uuid))
            select {member}, 'current versions: ' || current_versions as problem
            from (select d.{member}, count(*) filter (where d.is_current) as current_versions
                  from written w
                  join warehouse.{dim} d
                    on d.retailer_id = :retailer_id and d.{member} = w.{member}
                  group by d.{member}) as members
            where current_versions <> 1
            union all
            select a.{member}, 'versions overlap: ' || a.valid_from || ' and ' || b.valid_from
            from written w
            join warehouse.{dim} a on a.retailer_id = :retailer_id and a.{member} = w.{member}
            join warehouse.{dim} b
              on b.retailer_id = a.retailer_id and b.{member} = a.{member}
             and b.valid_from > a.valid_from and b.valid_from < a.valid_to
        """,
    )


# Only the date's rows are compared, so the check costs one day, not the retailer's whole
# history. A line respelled on another day is still caught: either its order is respelled
# too (fact_orders_key_unique compares against all of history, one row per order) or its
# order id names no order (fact_sales_order_exists).
fact_sales_key_unique = SqlCheck(
    name="fact_sales_key_unique", kind="uniqueness", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="0 duplicated lines",
    description="Each order line of the date is stored once: no two fact_sales rows of the "
                "date share (order id ignoring case and surrounding blanks, line number).",
    what="order lines stored more than once",
    # Duplicated keys are found with a plain count (a hash aggregate); only theirs are
    # collected into arrays, whose ORDER BY would otherwise sort every line of the day.
    sql="""
        with duplicated as (
            select lower(trim(order_id)) as order_key, line_number, count(*) as copies
            from warehouse.fact_sales
            where retailer_key = :retailer_key and order_date = :run_date
            group by 1, 2
            having count(*) > 1)
        select d.order_key, d.line_number, d.copies,
               array_agg(s.order_id order by s.order_id) as order_ids
        from duplicated d
        join warehouse.fact_sales s
          on s.retailer_key = :retailer_key and s.order_date = :run_date
         and s.line_number = d.line_number and lower(trim(s.order_id)) = d.order_key
        group by 1, 2, 3
    """,
)


fact_orders_key_unique = SqlCheck(
    name="fact_orders_key_unique", kind="uniqueness", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="0 duplicated orders",
    description="Each order of the date is stored once: no two fact_orders rows share the "
                "order id ignoring case and surrounding blanks.",
    what="orders stored more than once",
    sql="""
        select lower(trim(o.order_id)) as order_key, count(*) as copies,
               array_agg(o.order_id order by o.order_id) as order_ids,
               array_agg(o.order_date order by o.order_id) as order_dates
        from warehouse.fact_orders o
        where o.retailer_key = :retailer_key
          and lower(trim(o.order_id)) in (
            select lower(trim(order_id)) from warehouse.fact_orders
            where retailer_key = :retailer_key and order_date = :run_date)
        group by 1
        having count(*) > 1
    """,
)

CHECKS = [
    _scd2_versions("dim_customer", "customer_id", "customer"),
    _scd2_versions("dim_product", "product_id", "product"),
    fact_sales_key_unique,
    fact_orders_key_unique,
]
