-- Q1: how many orders are created per day? Orders, lines, units and customers per order
-- date and retailer, and every retailer together ('ALL'). A retailer's lines whose orders
-- are all missing still count (with no orders).
with line_counts as (
  select order_date, retailer_id, sum(lines) as order_lines, sum(units) as units_sold
  from mart_lines
  group by order_date, retailer_id
), every_retailer as (
  select * from line_counts
  union all
  -- the other retailers' rows of the dates (not those restated: the refreshed and 'ALL')
  select order_date, retailer_id, order_lines, units_sold
  from marts.daily_orders where order_date = any(%(dates)s)
    and retailer_id <> all(%(restated)s)
), lines_too as (
  select * from line_counts
  union all
  select order_date, 'ALL', sum(order_lines), sum(units_sold)
  from every_retailer
  group by order_date
)
select coalesce(o.order_date, l.order_date) as order_date,
       coalesce(o.retailer_id, l.retailer_id) as retailer_id,
       coalesce(o.orders_created, 0) as orders_created,
       coalesce(l.order_lines, 0) as order_lines, coalesce(l.units_sold, 0) as units_sold,
       coalesce(o.customers, 0) as customers
from mart_order_counts o
full join lines_too l on l.order_date = o.order_date and l.retailer_id = o.retailer_id
