-- Q4a: which products generate the most revenue? Per order date, retailer and product
-- (product ids are scoped per retailer, so there are no 'ALL' rows): units, lines, gross
-- and net revenue in USD, the rank within the retailer (revenue_rank) and among the
-- products of every retailer of the day (revenue_rank_all). A product shows its latest
-- version's name and category of the day.
-- revenue_rank_all moves when any retailer's products are refreshed, so this model also
-- gives the other retailers' rows of the dates, re-ranked (they replace the stored ones).
with products as (
  select order_date, retailer_id, product_id, max(product_valid_from) as latest_version,
         sum(units) as units_sold, sum(lines) as order_lines, sum(usd) as gross_revenue_usd,
         coalesce(sum(usd) filter (where not is_canceled and not is_refunded), 0)
           as net_revenue_usd
  from mart_lines
  group by order_date, retailer_id, product_id
), refreshed as (
  select a.order_date, a.retailer_id, a.product_id, p.product_name, p.category,
         a.units_sold, a.order_lines, a.gross_revenue_usd, a.net_revenue_usd,
         rank() over (partition by a.order_date, a.retailer_id
                      order by a.gross_revenue_usd desc) as revenue_rank
  from products a
  left join warehouse.dim_product p on p.retailer_id = a.retailer_id
       and p.product_id = a.product_id and p.valid_from = a.latest_version
), every_retailer as (
  select * from refreshed
  union all
  -- the other retailers' rows of the dates (not those restated: the refreshed and 'ALL')
  select order_date, retailer_id, product_id, product_name, category, units_sold,
         order_lines, gross_revenue_usd, net_revenue_usd, revenue_rank
  from marts.product_revenue where order_date = any(%(dates)s)
    and retailer_id <> all(%(restated)s)
)
select *, rank() over (partition by order_date order by gross_revenue_usd desc)
            as revenue_rank_all
from every_retailer
