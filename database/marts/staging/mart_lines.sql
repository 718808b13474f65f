-- Staging: mart_sales with the product version's natural key and attributes, and the
-- outcome of the lines whose order is of another day (read from fact_orders: one index
-- probe per such order).
select s.order_date, r.retailer_id, p.product_id, p.valid_from as product_valid_from,
       coalesce(p.category, '(unknown)') as category,
       case when f.order_id is null then s.is_canceled
            else f.canceled_at is not null end as is_canceled,
       case when f.order_id is null then s.is_refunded
            else f.refunded_at is not null and f.canceled_at is null end as is_refunded,
       sum(s.lines)::bigint as lines, sum(s.units)::bigint as units,
       sum(s.usd)::numeric(16,2) as usd
from mart_sales s
join warehouse.dim_retailer r on r.retailer_key = s.retailer_key
left join warehouse.dim_product p on p.product_key = s.product_key
left join warehouse.fact_orders f on f.retailer_key = s.retailer_key
     and f.order_id = s.other_day_order
group by 1, 2, 3, 4, 5, 6, 7
