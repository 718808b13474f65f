-- Q5: what share of orders is canceled or refunded? Per order date and retailer, and every
-- retailer together ('ALL'). An order both canceled and refunded counts once in
-- orders_canceled_or_refunded.
with refreshed as (
  select order_date, retailer_id, count(*) as orders_created,
         count(canceled_at) as orders_canceled, count(refunded_at) as orders_refunded,
         count(*) filter (where canceled_at is not null or refunded_at is not null)
           as orders_canceled_or_refunded
  from mart_orders
  group by order_date, retailer_id
), every_retailer as (
  select * from refreshed
  union all
  -- the other retailers' rows of the dates (the refreshed ones' are deleted by now)
  select order_date, retailer_id, orders_created, orders_canceled, orders_refunded,
         orders_canceled_or_refunded
  from marts.order_cancellations where order_date = any(%(dates)s)
), counted as (
  select * from refreshed
  union all
  select order_date, 'ALL', sum(orders_created), sum(orders_canceled), sum(orders_refunded),
         sum(orders_canceled_or_refunded)
  from every_retailer
  group by order_date
)
select *, marts.share(orders_canceled, orders_created) as canceled_share,
       marts.share(orders_refunded, orders_created) as refunded_share,
       marts.share(orders_canceled_or_refunded, orders_created) as canceled_or_refunded_share
from counted
