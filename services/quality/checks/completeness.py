"""Completeness: columns that should be filled, measured as a share of the day's members.

Required canonical fields are enforced at normalization (a record without them is
rejected), so what can still be empty in the warehouse is what the retailers may leave
out: a customer's email, a product's name or category. Those are loaded as received and
reported here as warnings; they never stop a run.
"""

from __future__ import annotations

from services.quality.checks.base import Scope, Severity, SqlCheck

customer_email_present = SqlCheck(
    name="customer_email_present", kind="completeness", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE, threshold="share of customers without email = 0",
    description="Customers (non-inferred) of the date's orders have an email address.",
    what="customers of the day's orders have no email",
    sql="""
        select distinct c.customer_id, c.customer_key, c.email
        from warehouse.fact_orders o
        join warehouse.dim_customer c on c.customer_key = o.customer_key
        where o.retailer_key = :retailer_key and o.order_date = :run_date
          and not c.is_inferred and nullif(trim(c.email), '') is null
    """,
    population_sql="""
        select count(distinct c.customer_key)
        from warehouse.fact_orders o
        join warehouse.dim_customer c on c.customer_key = o.customer_key
        where o.retailer_key = :retailer_key and o.order_date = :run_date
          and not c.is_inferred
    """,
)

product_attributes_present = SqlCheck(
    name="product_attributes_present", kind="completeness", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE, threshold="share of products missing attributes = 0",
    description="Products (non-inferred) sold on the date have a name, a category and a "
                "list price.",
    what="products sold that day miss a name, category or list price",
    sql="""
        select distinct p.product_id, p.product_key, p.product_name, p.category, p.list_price
        from warehouse.fact_sales s
        join warehouse.dim_product p on p.product_key = s.product_key
        where s.retailer_key = :retailer_key and s.order_date = :run_date
          and not p.is_inferred
          and (nullif(trim(p.product_name), '') is null
               or nullif(trim(p.category), '') is null or p.list_price is null)
    """,
    population_sql="""
        select count(distinct p.product_key)
        from warehouse.fact_sales s
        join warehouse.dim_product p on p.product_key = s.product_key
        where s.retailer_key = :retailer_key and s.order_date = :run_date
          and not p.is_inferred
    """,
)

CHECKS = [customer_email_present, product_attributes_present]
