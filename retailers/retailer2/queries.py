"""retailer2's SQL. Keyset pages (`id > last seen`), money in integer cents, timestamps in
New York local time with their offset: the API's connections run with
`timezone=America/New_York`, so `to_char` renders local time and TZH:TZM its offset.
Days are UTC days: every day filter converts explicitly.

Every read of the partitioned purchase tables is bounded by the day's order-number window
(`Day.order_window`, as purchase ids; its `lines_*` for item ids), so it reads the
partitions of a few days, not of every day seeded."""

TS = """'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'"""
UTC_DAY = "(({col} at time zone 'UTC')::date)"
# An order number as a purchase id (storage.ORDER_ID); folded to a constant when planning.
PURCHASE_ID = "('ORD-' || lpad(({n})::text, 10, '0'))"
CREATED = (f"{{col}} >= {PURCHASE_ID.format(n='%(orders_from)s')} "
           f"and {{col}} < {PURCHASE_ID.format(n='%(orders_to)s')}")
CHANGED = (f"{{col}} >= {PURCHASE_ID.format(n='%(changes_from)s')} "
           f"and {{col}} < {PURCHASE_ID.format(n='%(orders_to)s')}")
ITEMS = "{col} >= %(line_changes_from)s and {col} < %(lines_to)s"

# Purchases of the day after the cursor: placed on it, or with a status change recorded on
# it. Both halves walk an index in id order and stop after n, so a page costs O(n).
ORDER_IDS = f"""
select id from (
    (select id from purchase
     where {UTC_DAY.format(col="placed_at")} = %(day)s and id > %(after)s
       and {CREATED.format(col="id")}
     order by id limit %(n)s)
    union
    (select distinct purchase_id from purchase_status
     where recorded_day = %(day)s and purchase_id > %(after)s
       and {CHANGED.format(col="purchase_id")}
     order by purchase_id limit %(n)s)
) ids order by id limit %(n)s
"""

# Each purchase as one JSON document: items and status history nested, as of end of day.
ORDERS_PAGE = f"""
with ids as ({ORDER_IDS})
select p.id, json_build_object(
    'id', p.id,
    'customer', json_build_object('id', p.shopper_id, 'email', prof.email),
    'channel', p.channel_code,
    'placed_at', to_char(p.placed_at, {TS}),
    'status', coalesce(hist.last_status, 'placed'),
    'total_cents', p.total_cents,
    'items', coalesce(items.doc, '[]'::json),
    'status_history', coalesce(hist.doc, '[]'::json)
)::text as doc
from ids
join purchase p on p.id = ids.id and {CHANGED.format(col="p.id")}
left join lateral (
    select sp.email from shopper_profile sp
    where sp.shopper_id = p.shopper_id and sp.valid_from < %(end)s
    order by sp.valid_from desc limit 1
) prof on true
left join lateral (
    select json_agg(json_build_object(
               'line', i.line, 'product_code', i.product_code, 'quantity', i.quantity,
               'unit_price_cents', i.unit_price_cents, 'discount_cents', i.discount_cents,
               'total_cents', i.total_cents) order by i.line, i.item_id) as doc
    from purchase_item i where i.purchase_id = p.id and {ITEMS.format(col="i.item_id")}
      -- this purchase's own item ids: one partition, chosen per purchase while running
      and i.item_id >= substr(p.id, 5)::bigint * 16
      and i.item_id < (substr(p.id, 5)::bigint + 1) * 16
) items on true
left join lateral (
    select json_agg(json_build_object('status', s.status, 'at', to_char(s.changed_at, {TS}))
                    order by s.changed_at) as doc,
           (array_agg(s.status order by s.changed_at desc))[1] as last_status
    from purchase_status s where s.purchase_id = p.id and s.recorded_day <= %(day)s
      and {CHANGED.format(col="s.purchase_id")}
) hist on true
order by p.id
"""

CATALOG_PAGE = f"""
select p.code, p.name, p.department, pp.price_cents, to_char(pp.valid_from, {TS}) as updated_at
from product p
join lateral (
    select price_cents, valid_from from product_price x
    where x.code = p.code and x.valid_from < %(end)s
    order by x.valid_from desc limit 1
) pp on true
where p.code > %(after)s
order by p.code limit %(n)s
"""

CUSTOMERS_PAGE = f"""
with ids as (
    select id from (
        (select id from shopper
         where {UTC_DAY.format(col="created_at")} = %(day)s and id > %(after)s
         order by id limit %(n)s)
        union
        (select shopper_id from shopper_profile
         where {UTC_DAY.format(col="valid_from")} = %(day)s and shopper_id > %(after)s
         order by shopper_id limit %(n)s)
        union
        (select distinct shopper_id from purchase
         where {UTC_DAY.format(col="placed_at")} = %(day)s and shopper_id > %(after)s
           and {CREATED.format(col="id")}
         order by shopper_id limit %(n)s)
    ) u order by id limit %(n)s
)
select s.id, sp.email, sp.full_name, sp.city, sp.region,
       to_char(s.created_at, {TS}) as created_at, to_char(sp.valid_from, {TS}) as updated_at
from ids
join shopper s on s.id = ids.id
join lateral (
    select * from shopper_profile x
    where x.shopper_id = s.id and x.valid_from < %(end)s
    order by x.valid_from desc limit 1
) sp on true
order by s.id
"""

CHANNELS = """
select code, label, channel_type as type, city from channel order by code
"""

# Items of purchases placed on the day, an item stored twice counted once.
DAILY_REPORT = f"""
select count(*), coalesce(sum(total_cents), 0)::bigint
from (
    select distinct on (i.purchase_id, i.line) i.total_cents
    from purchase p join purchase_item i on i.purchase_id = p.id
    where {UTC_DAY.format(col="p.placed_at")} = %(day)s and {CREATED.format(col="p.id")}
      and i.item_id >= %(lines_from)s and i.item_id < %(lines_to)s
    order by i.purchase_id, i.line, i.item_id
) item
"""
