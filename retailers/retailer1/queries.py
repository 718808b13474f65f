"""retailer1's SQL. PostgreSQL renders the wire formats: naive UTC timestamps
(`2024-01-15 13:45:12`), dollars as float8 (JSON numbers), integer ids.

Every read of the partitioned order tables is bounded by the day's order-number window
(`Day.order_window`; its `lines_*` for line row ids), so it reads the partitions of a few
days, not of every day seeded."""

TS = "'YYYY-MM-DD HH24:MI:SS'"

# Orders of the day: created on it, or with a lifecycle change logged on it.
DAY_ORDERS = """
    select order_id from sales_order where order_ts >= %(start_naive)s and order_ts < %(end_naive)s
      and order_id >= %(orders_from)s and order_id < %(orders_to)s
    union
    select order_id from order_status_log where logged_on = %(day)s
      and order_id >= %(changes_from)s and order_id < %(orders_to)s
"""

LINE_KEYS = f"""
with day_orders as ({DAY_ORDERS})
select l.row_id
from day_orders d join sales_order_line l on l.order_id = d.order_id
where l.row_id >= %(line_changes_from)s and l.row_id < %(lines_to)s
order by l.order_id, l.line_no, l.row_id
"""

# One page of lines by row_id, with the order's lifecycle as of the end of the day.
LINES_PAGE = f"""
with page as (
    select k.row_id, k.n from unnest(%(ids)s::bigint[]) with ordinality as k(row_id, n)
), lines as (
    select p.n, l.* from page p join sales_order_line l on l.row_id = p.row_id
    where l.row_id >= %(line_changes_from)s and l.row_id < %(lines_to)s
), lifecycle as (
    -- per order of the page: its changes known by the end of the day (a primary-key range)
    select o.order_id, s.*
    from (select distinct order_id from lines) o
    cross join lateral (
        select max(x.status_ts) filter (where x.status = 'paid') as paid_ts,
               max(x.status_ts) filter (where x.status = 'shipped') as shipped_ts,
               max(x.status_ts) filter (where x.status = 'delivered') as delivered_ts,
               max(x.status_ts) filter (where x.status = 'canceled') as canceled_ts,
               max(x.status_ts) filter (where x.status = 'refunded') as refunded_ts,
               (array_agg(x.status order by x.status_ts desc))[1] as last_status
        from order_status_log x
        where x.order_id = o.order_id and x.logged_on <= %(day)s
          and x.order_id >= %(changes_from)s and x.order_id < %(orders_to)s
    ) s
)
select l.order_id, l.line_no::integer as line_no,
       to_char(o.order_ts, {TS}) as order_ts, o.customer_id, o.store_id, l.sku, l.qty,
       l.unit_price::float8 as unit_price, l.discount::float8 as discount,
       l.line_total::float8 as line_total,
       coalesce(lc.last_status, 'created') as order_status,
       to_char(lc.paid_ts, {TS}) as paid_ts, to_char(lc.shipped_ts, {TS}) as shipped_ts,
       to_char(lc.delivered_ts, {TS}) as delivered_ts,
       to_char(lc.canceled_ts, {TS}) as canceled_ts,
       to_char(lc.refunded_ts, {TS}) as refunded_ts
from lines l
join sales_order o on o.order_id = l.order_id
     and o.order_id >= %(changes_from)s and o.order_id < %(orders_to)s
left join lifecycle lc on lc.order_id = l.order_id
order by l.n
"""

PRODUCTS_COUNT = """
select count(*) from item i
where exists (select 1 from item_price p where p.sku = i.sku and p.effective_ts < %(end_naive)s)
"""

PRODUCTS_PAGE = f"""
select i.sku, i.title, i.category, p.price::float8 as price,
       to_char(p.effective_ts, {TS}) as price_changed_ts
from item i
join lateral (
    select price, effective_ts from item_price ip
    where ip.sku = i.sku and ip.effective_ts < %(end_naive)s
    order by ip.effective_ts desc limit 1
) p on true
order by i.sku
offset %(offset)s limit %(limit)s
"""

CUSTOMER_KEYS = """
select customer_id::bigint from customer
where signup_ts >= %(start_naive)s and signup_ts < %(end_naive)s
union
select customer_id from customer_rev
where modified_ts >= %(start_naive)s and modified_ts < %(end_naive)s
union
select customer_id from sales_order
where order_ts >= %(start_naive)s and order_ts < %(end_naive)s
  and order_id >= %(orders_from)s and order_id < %(orders_to)s
order by 1
"""

CUSTOMERS_PAGE = f"""
select c.customer_id, r.email, r.first_name, r.last_name, r.city, r.state,
       to_char(c.signup_ts, {TS}) as signup_ts, to_char(r.modified_ts, {TS}) as modified_ts
from unnest(%(ids)s::integer[]) with ordinality as k(customer_id, n)
join customer c on c.customer_id = k.customer_id
join lateral (
    select * from customer_rev cr
    where cr.customer_id = c.customer_id and cr.modified_ts < %(end_naive)s
    order by cr.modified_ts desc limit 1
) r on true
order by k.n
"""

STORES_PAGE = """
select store_id, store_name, city, state, kind from store
order by store_id offset %(offset)s limit %(limit)s
"""

# Lines of orders created on the day, a double-posted line counted once.
CONTROL_TOTALS = """
select count(*), coalesce(round(sum(line_total), 2), 0)::float8
from (
    select distinct on (l.order_id, l.line_no) l.line_total
    from sales_order o join sales_order_line l on l.order_id = o.order_id
    where o.order_ts >= %(start_naive)s and o.order_ts < %(end_naive)s
      and o.order_id >= %(orders_from)s and o.order_id < %(orders_to)s
      and l.row_id >= %(lines_from)s and l.row_id < %(lines_to)s
    order by l.order_id, l.line_no, l.row_id
) line
"""
