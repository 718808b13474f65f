-- Staging: the refreshed retailers' orders of the refreshed dates, one row per order, with
-- the customer's natural key (customers are counted by id, not by version).
-- Parameters: %(dates)s the order dates, %(retailer_keys)s the refreshed retailers.
select o.order_date, o.retailer_key, r.retailer_id, o.order_id, c.customer_id, o.created_at,
       o.paid_at, o.shipped_at, o.delivered_at, o.canceled_at, o.refunded_at
from warehouse.fact_orders o
join warehouse.dim_retailer r on r.retailer_key = o.retailer_key
left join warehouse.dim_customer c on c.customer_key = o.customer_key
where o.order_date = any(%(dates)s) and o.retailer_key = any(%(retailer_keys)s)
