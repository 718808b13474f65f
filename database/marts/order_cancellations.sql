-- Q5: what share of orders is canceled or refunded? Per order date and retailer, and every
-- retailer together ('ALL'). An order both canceled and refunded counts once in
-- orders_canceled_or_refunded.
select order_date, retailer_id, orders_created, orders_canceled, orders_refunded,
       orders_canceled_or_refunded,
       marts.share(orders_canceled, orders_created) as canceled_share,
       marts.share(orders_refunded, orders_created) as refunded_share,
       marts.share(orders_canceled_or_refunded, orders_created) as canceled_or_refunded_share
from mart_order_counts
