-- Q6: how long does an order take from created to shipped to delivered? Median and p90 in
-- hours per order date and retailer, and every retailer together ('ALL'). Percentiles do
-- not add up: the 'ALL' durations read every retailer's shipped or delivered orders.
with durations as (
  -- one sort per duration: both quantiles come from the same ordered-set aggregate
  select order_date, retailer_id, count(*) as orders_created,
         count(shipped_at) as orders_shipped, count(delivered_at) as orders_delivered,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(created_at, shipped_at)) as cs,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(shipped_at, delivered_at)) as sd,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(created_at, delivered_at)) as cd
  from mart_orders
  group by order_date, retailer_id
), refreshed as (
  select order_date, retailer_id, orders_created, orders_shipped, orders_delivered,
         marts.round_hours(cs[1]) as created_to_shipped_median_hours,
         marts.round_hours(cs[2]) as created_to_shipped_p90_hours,
         marts.round_hours(sd[1]) as shipped_to_delivered_median_hours,
         marts.round_hours(sd[2]) as shipped_to_delivered_p90_hours,
         marts.round_hours(cd[1]) as created_to_delivered_median_hours,
         marts.round_hours(cd[2]) as created_to_delivered_p90_hours
  from durations
), every_retailer as (
  select order_date, orders_created, orders_shipped, orders_delivered from refreshed
  union all
  -- the other retailers' rows of the dates (the refreshed ones' are deleted by now)
  select order_date, orders_created, orders_shipped, orders_delivered
  from marts.fulfillment_times where order_date = any(%(dates)s)
), all_counts as (
  select order_date, sum(orders_created) as orders_created,
         sum(orders_shipped) as orders_shipped, sum(orders_delivered) as orders_delivered
  from every_retailer
  group by order_date
), all_durations as (
  select order_date,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(created_at, shipped_at)) as cs,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(shipped_at, delivered_at)) as sd,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(created_at, delivered_at)) as cd
  from warehouse.fact_orders
  where order_date = any(%(dates)s) and (shipped_at is not null or delivered_at is not null)
  group by order_date
)
select * from refreshed
union all
select c.order_date, 'ALL', c.orders_created, c.orders_shipped, c.orders_delivered,
       marts.round_hours(d.cs[1]), marts.round_hours(d.cs[2]), marts.round_hours(d.sd[1]),
       marts.round_hours(d.sd[2]), marts.round_hours(d.cd[1]), marts.round_hours(d.cd[2])
from all_counts c
left join all_durations d on d.order_date = c.order_date
