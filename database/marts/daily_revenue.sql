-- Q2: how much revenue is generated? Gross, canceled, refunded and net (gross less both)
-- in USD per order date and retailer, and every retailer together ('ALL').
with refreshed as (
  select order_date, retailer_id, sum(usd) as gross_revenue_usd,
         coalesce(sum(usd) filter (where is_canceled), 0) as canceled_revenue_usd,
         coalesce(sum(usd) filter (where is_refunded), 0) as refunded_revenue_usd,
         coalesce(sum(usd) filter (where not is_canceled and not is_refunded), 0)
           as net_revenue_usd
  from mart_lines
  group by order_date, retailer_id
), every_retailer as (
  select * from refreshed
  union all
  -- the other retailers' rows of the dates (not those restated: the refreshed and 'ALL')
  select order_date, retailer_id, gross_revenue_usd, canceled_revenue_usd,
         refunded_revenue_usd, net_revenue_usd
  from marts.daily_revenue where order_date = any(%(dates)s)
    and retailer_id <> all(%(restated)s)
)
select * from refreshed
union all
select order_date, 'ALL', sum(gross_revenue_usd), sum(canceled_revenue_usd),
       sum(refunded_revenue_usd), sum(net_revenue_usd)
from every_retailer
group by order_date
