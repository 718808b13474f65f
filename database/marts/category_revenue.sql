-- Q4b: which categories generate the most revenue? Per order date, retailer and category,
-- and every retailer together ('ALL'): distinct products, units, lines, gross and net
-- revenue in USD, the category's share of the day's gross revenue and its rank.
with categories as (
  select order_date, retailer_id, category, count(distinct product_id) as products,
         sum(units) as units_sold, sum(lines) as order_lines, sum(usd) as gross_revenue_usd,
         coalesce(sum(usd) filter (where not is_canceled and not is_refunded), 0)
           as net_revenue_usd
  from mart_lines
  group by order_date, retailer_id, category
), every_retailer as (
  select * from categories
  union all
  -- the other retailers' rows of the dates (not those restated: the refreshed and 'ALL')
  select order_date, retailer_id, category, products, units_sold, order_lines,
         gross_revenue_usd, net_revenue_usd
  from marts.category_revenue where order_date = any(%(dates)s)
    and retailer_id <> all(%(restated)s)
), summed as (
  select * from categories
  union all
  -- product ids are scoped per retailer, so the retailers' distinct products add up
  select order_date, 'ALL', category, sum(products), sum(units_sold), sum(order_lines),
         sum(gross_revenue_usd), sum(net_revenue_usd)
  from every_retailer
  group by order_date, category
)
select *,
       marts.share(gross_revenue_usd,
                   sum(gross_revenue_usd) over (partition by order_date, retailer_id))
         as revenue_share,
       rank() over (partition by order_date, retailer_id order by gross_revenue_usd desc)
         as revenue_rank
from summed
