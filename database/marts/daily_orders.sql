-- Q1: how many orders are created per day? Orders, lines, units and customers per order
-- date and retailer, and every retailer together ('ALL').
with order_counts as (
  select order_date, retailer_id, count(*) as orders_created,
         count(distinct customer_id) as customers
  from mart_orders
  group by order_date, retailer_id
), line_counts as (
  select order_date, retailer_id, sum(lines) as order_lines, sum(units) as units_sold
  from mart_lines
  group by order_date, retailer_id
), refreshed as (
  select coalesce(o.order_date, l.order_date) as order_date,
         coalesce(o.retailer_id, l.retailer_id) as retailer_id,
         coalesce(o.orders_created, 0) as orders_created,
         coalesce(l.order_lines, 0) as order_lines, coalesce(l.units_sold, 0) as units_sold,
         coalesce(o.customers, 0) as customers
  from order_counts o
  full join line_counts l on l.order_date = o.order_date and l.retailer_id = o.retailer_id
), every_retailer as (
  select * from refreshed
  union all
  -- the other retailers' rows of the dates (the refreshed ones' are deleted by now)
  select order_date, retailer_id, orders_created, order_lines, units_sold, customers
  from marts.daily_orders where order_date = any(%(dates)s)
)
select * from refreshed
union all
-- customer ids are scoped per retailer, so the retailers' customers add up
select order_date, 'ALL', sum(orders_created), sum(order_lines), sum(units_sold),
       sum(customers)
from every_retailer
group by order_date
