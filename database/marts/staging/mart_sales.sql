-- Staging: the refreshed retailers' order lines of the refreshed dates, grouped by product
-- version and order outcome. A line's order is looked up among the dates' orders
-- (mart_orders, one hash join); a line whose order is of another day keeps that order's id
-- in other_day_order (mart_lines resolves it); a line whose order was never loaded counts
-- as neither canceled nor refunded.
-- Parameters: %(dates)s the order dates, %(retailer_keys)s the refreshed retailers.
select s.order_date, s.retailer_key, s.product_key,
       case when o.order_id is null then s.order_id end as other_day_order,
       coalesce(o.canceled_at is not null, false) as is_canceled,
       coalesce(o.refunded_at is not null and o.canceled_at is null, false) as is_refunded,
       count(*) as lines, sum(s.quantity) as units, sum(s.line_total_usd) as usd
from warehouse.fact_sales s
left join mart_orders o on o.retailer_key = s.retailer_key and o.order_id = s.order_id
where s.order_date = any(%(dates)s) and s.retailer_key = any(%(retailer_keys)s)
group by 1, 2, 3, 4, 5, 6
