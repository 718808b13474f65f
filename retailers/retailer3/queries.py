"""retailer3's SQL. Page-number pages over per-day key lists; money and counts as strings,
RFC 3339 UTC timestamps with milliseconds, UUIDs and numeric strings as public ids.

Every read of the partitioned sales tables is bounded by the day's order-number window
(`Day.order_window`; its `lines_*` for item ids; event ids are 8 per order number), so it
reads the partitions of a few days, not of every day seeded."""

TS = """'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"""


def ts(col: str) -> str:
    return f"to_char({col} at time zone 'UTC', {TS})"


ORDER_KEYS = """
select id from sales_header where created_at >= %(start)s and created_at < %(end)s
  and id >= %(orders_from)s and id < %(orders_to)s
order by id
"""

ORDERS_PAGE = f"""
select h.order_number::text as "orderNumber", c.client_ref as "customerRef",
       h.outlet_ref as "storeRef", {ts("h.created_at")} as "createdAt",
       coalesce(st.event_type, 'NEW') as state, h.currency, h.grand_total::text as "grandTotal"
from unnest(%(ids)s::bigint[]) with ordinality as k(id, n)
join sales_header h on h.id = k.id
     and h.id >= %(orders_from)s and h.id < %(orders_to)s
join client c on c.id = h.client_id
left join lateral (
    select e.event_type from sales_event e
    where e.header_id = h.id and e.reported_on <= %(day)s
      and e.id >= %(orders_from)s::bigint * 8 and e.id < %(orders_to)s::bigint * 8
    order by e.occurred_at desc limit 1
) st on true
order by k.n
"""

ITEM_KEYS = """
select i.id
from sales_header h join sales_item i on i.header_id = h.id
where h.created_at >= %(start)s and h.created_at < %(end)s
  and h.id >= %(orders_from)s and h.id < %(orders_to)s
  and i.id >= %(lines_from)s and i.id < %(lines_to)s
order by i.header_id, i.position, i.id
"""

ITEMS_PAGE = """
select h.order_number::text as "orderNumber", i.position::text as position,
       i.article_number as "articleNumber", i.quantity::text as quantity,
       i.unit_price::text as "unitPrice", i.discount::text as discount,
       i.line_total::text as "lineTotal"
from unnest(%(ids)s::bigint[]) with ordinality as k(id, n)
join sales_item i on i.id = k.id
     and i.id >= %(lines_from)s and i.id < %(lines_to)s
join sales_header h on h.id = i.header_id
     and h.id >= %(orders_from)s and h.id < %(orders_to)s
order by k.n
"""

EVENT_KEYS = """
select id from sales_event where reported_on = %(day)s
  and id >= %(changes_from)s::bigint * 8 and id < %(orders_to)s::bigint * 8
order by id
"""

EVENTS_PAGE = f"""
select e.event_id::text as "eventId", h.order_number::text as "orderNumber",
       e.event_type as type, {ts("e.occurred_at")} as "occurredAt"
from unnest(%(ids)s::bigint[]) with ordinality as k(id, n)
join sales_event e on e.id = k.id
     and e.id >= %(changes_from)s::bigint * 8 and e.id < %(orders_to)s::bigint * 8
join sales_header h on h.id = e.header_id
     and h.id >= %(changes_from)s and h.id < %(orders_to)s
order by k.n
"""

PRODUCTS_COUNT = """
select count(*) from article a
where exists (select 1 from article_price p
              where p.article_number = a.article_number and p.valid_from < %(end)s)
"""

PRODUCTS_PAGE = f"""
select a.article_number as "articleNumber", a.label, a.product_group as "productGroup",
       p.price::text as price, {ts("p.valid_from")} as "validFrom"
from article a
join lateral (
    select price, valid_from from article_price x
    where x.article_number = a.article_number and x.valid_from < %(end)s
    order by x.valid_from desc limit 1
) p on true
order by a.article_number
offset %(offset)s limit %(limit)s
"""

CUSTOMER_KEYS = """
select id from client where registered_at >= %(start)s and registered_at < %(end)s
union
select client_id from client_version where changed_at >= %(start)s and changed_at < %(end)s
union
select client_id from sales_header where created_at >= %(start)s and created_at < %(end)s
  and id >= %(orders_from)s and id < %(orders_to)s
order by 1
"""

CUSTOMERS_PAGE = f"""
select c.client_ref as "customerRef", v.mail, v.name, v.town, v.country,
       {ts("c.registered_at")} as "registeredAt", {ts("v.changed_at")} as "changedAt"
from unnest(%(ids)s::bigint[]) with ordinality as k(id, n)
join client c on c.id = k.id
join lateral (
    select * from client_version x
    where x.client_id = c.id and x.changed_at < %(end)s
    order by x.changed_at desc limit 1
) v on true
order by k.n
"""

STORES_PAGE = """
select outlet_ref as "storeRef", label, town, country, format from outlet
order by outlet_ref offset %(offset)s limit %(limit)s
"""

# Items of orders created on the day, an item stored twice counted once.
CONTROL_TOTALS = """
select count(*)::text, coalesce(sum(line_total), 0)::numeric(14, 2)::text
from (
    select distinct on (i.header_id, i.position) i.line_total
    from sales_header h join sales_item i on i.header_id = h.id
    where h.created_at >= %(start)s and h.created_at < %(end)s
      and h.id >= %(orders_from)s and h.id < %(orders_to)s
      and i.id >= %(lines_from)s and i.id < %(lines_to)s
    order by i.header_id, i.position, i.id
) item
"""
