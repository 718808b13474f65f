-- Staging: order counts per order date and retailer, and every retailer together ('ALL'),
-- read by the marts that count orders. The refreshed retailers' counts come from
-- mart_orders; the other retailers' are taken as the marts hold them (customer ids are
-- scoped per retailer, so distinct customers add up too).
-- Parameters: %(dates)s the order dates, %(restated)s the refreshed retailers and 'ALL'.
with refreshed as (
  select order_date, retailer_id, count(*) as orders_created,
         count(distinct customer_id) as customers, count(paid_at) as orders_paid,
         count(shipped_at) as orders_shipped, count(delivered_at) as orders_delivered,
         count(canceled_at) as orders_canceled, count(refunded_at) as orders_refunded,
         count(*) filter (where canceled_at is not null or refunded_at is not null)
           as orders_canceled_or_refunded
  from mart_orders
  group by order_date, retailer_id
), kept as (
  select f.order_date, f.retailer_id, f.orders_created, coalesce(d.customers, 0),
         f.orders_paid, f.orders_shipped, f.orders_delivered,
         coalesce(c.orders_canceled, 0), coalesce(c.orders_refunded, 0),
         coalesce(c.orders_canceled_or_refunded, 0)
  from marts.order_funnel f
  left join marts.daily_orders d
       on d.order_date = f.order_date and d.retailer_id = f.retailer_id
  left join marts.order_cancellations c
       on c.order_date = f.order_date and c.retailer_id = f.retailer_id
  where f.order_date = any(%(dates)s) and f.retailer_id <> all(%(restated)s)
), every_retailer as (
  select * from refreshed
  union all
  select * from kept
)
select * from refreshed
union all
select order_date, 'ALL', sum(orders_created), sum(customers), sum(orders_paid),
       sum(orders_shipped), sum(orders_delivered), sum(orders_canceled),
       sum(orders_refunded), sum(orders_canceled_or_refunded)
from every_retailer
group by order_date
