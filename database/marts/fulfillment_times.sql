-- Q6: how long does an order take from created to shipped to delivered? Median and p90 in
-- hours per order date and retailer, and every retailer together ('ALL').
with timed as (
  select order_date, retailer_id, created_at, shipped_at, delivered_at
  from mart_orders
  union all
  -- percentiles do not add up: the 'ALL' durations read every retailer's shipped or
  -- delivered orders of the dates
  select order_date, 'ALL', created_at, shipped_at, delivered_at
  from warehouse.fact_orders
  where order_date = any(%(dates)s) and (shipped_at is not null or delivered_at is not null)
), durations as (
  -- one sort per duration: both quantiles come from the same ordered-set aggregate
  select order_date, retailer_id,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(created_at, shipped_at)) as cs,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(shipped_at, delivered_at)) as sd,
         percentile_cont(array[0.5, 0.9]) within group
           (order by marts.hours(created_at, delivered_at)) as cd
  from timed
  group by order_date, retailer_id
)
select c.order_date, c.retailer_id, c.orders_created, c.orders_shipped, c.orders_delivered,
       marts.round_hours(d.cs[1]) as created_to_shipped_median_hours,
       marts.round_hours(d.cs[2]) as created_to_shipped_p90_hours,
       marts.round_hours(d.sd[1]) as shipped_to_delivered_median_hours,
       marts.round_hours(d.sd[2]) as shipped_to_delivered_p90_hours,
       marts.round_hours(d.cd[1]) as created_to_delivered_median_hours,
       marts.round_hours(d.cd[2]) as created_to_delivered_p90_hours
from mart_order_counts c
left join durations d on d.order_date = c.order_date and d.retailer_id = c.retailer_id
