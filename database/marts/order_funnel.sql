-- Q3: what share of created orders reached payment? Orders created, paid, shipped and
-- delivered per order date and retailer, and every retailer together ('ALL').
with refreshed as (
  select order_date, retailer_id, count(*) as orders_created, count(paid_at) as orders_paid,
         count(shipped_at) as orders_shipped, count(delivered_at) as orders_delivered
  from mart_orders
  group by order_date, retailer_id
), every_retailer as (
  select * from refreshed
  union all
  -- the other retailers' rows of the dates (the refreshed ones' are deleted by now)
  select order_date, retailer_id, orders_created, orders_paid, orders_shipped,
         orders_delivered
  from marts.order_funnel where order_date = any(%(dates)s)
), counted as (
  select * from refreshed
  union all
  select order_date, 'ALL', sum(orders_created), sum(orders_paid), sum(orders_shipped),
         sum(orders_delivered)
  from every_retailer
  group by order_date
)
select *, marts.share(orders_paid, orders_created) as conversion_rate
from counted
