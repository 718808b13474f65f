-- Q3: what share of created orders reached payment? Orders created, paid, shipped and
-- delivered per order date and retailer, and every retailer together ('ALL').
select order_date, retailer_id, orders_created, orders_paid, orders_shipped,
       orders_delivered, marts.share(orders_paid, orders_created) as conversion_rate
from mart_order_counts
