-- Staging: mart_sales with the product version's natural key and attributes, and the
-- outcome of the lines whose order is of another day, read from that order in fact_orders.
select s.order_date, r.retailer_id, p.product_id, p.valid_from as product_valid_from,
       coalesce(p.category, '(unknown)') as category,
       coalesce(other_day.is_canceled, s.is_canceled) as is_canceled,
       coalesce(other_day.is_refunded, s.is_refunded) as is_refunded,
       sum(s.lines)::bigint as lines, sum(s.units)::bigint as units,
       sum(s.usd)::numeric(16,2) as usd
from mart_sales s
join warehouse.dim_retailer r on r.retailer_key = s.retailer_key
left join warehouse.dim_product p on p.product_key = s.product_key
left join lateral (
  select f.canceled_at is not null as is_canceled,
         f.refunded_at is not null and f.canceled_at is null as is_refunded
  from warehouse.fact_orders f
  where s.other_day_order is not null
    and f.retailer_key = s.retailer_key and f.order_id = s.other_day_order
  offset 0   -- not flattened into a join: one index probe per such line, never a scan
) other_day on true
group by 1, 2, 3, 4, 5, 6, 7
