"""The generator writes believable data with every fault kind, and prices that agree with
the catalog's price history."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest

from retailers.generator.day import WEEKDAY_FACTOR, generate_day, mean_basket
from retailers.generator.master import Volumes, build_master
from retailers.registry import get_spec
from tests.retailers.dbutil import query

# Per retailer, one query per fault kind counting its occurrences among the data of
# 2024-01-15 (orders created that day, their customers, their events). Negative quantities
# count distinct lines: a duplicated line is one fault of each kind.
FAULT_QUERIES = {
    "retailer1": {
        "duplicate_lines": """select count(*) from (select 1 from sales_order_line l
            join sales_order o using (order_id) where o.order_ts::date = '2024-01-15'
            group by l.order_id, l.line_no having count(*) > 1) d""",
        "missing_emails": """select count(*) from customer_rev r where r.email is null
            and r.customer_id in (select customer_id from sales_order
                                  where order_ts::date = '2024-01-15')""",
        "negative_quantities": """select count(distinct (l.order_id, l.line_no))
            from sales_order_line l join sales_order o
            using (order_id) where o.order_ts::date = '2024-01-15' and l.qty < 0""",
        "bad_totals": """select count(*) from sales_order_line l join sales_order o
            using (order_id) where o.order_ts::date = '2024-01-15'
            and l.line_total <> l.qty * l.unit_price - l.discount""",
        "unknown_skus": """select count(*) from sales_order_line l join sales_order o
            using (order_id) where o.order_ts::date = '2024-01-15'
            and not exists (select 1 from item i where i.sku = l.sku)""",
        "late_events": """select count(*) from order_status_log
            where status_ts::date = '2024-01-15' and logged_on > '2024-01-15'""",
    },
    "retailer2": {
        "duplicate_lines": """select count(*) from (select 1 from purchase_item i
            join purchase p on p.id = i.purchase_id
            where (p.placed_at at time zone 'UTC')::date = '2024-01-15'
            group by i.purchase_id, i.line having count(*) > 1) d""",
        "missing_emails": """select count(*) from shopper_profile sp where sp.email is null
            and sp.shopper_id in (select shopper_id from purchase
                                  where (placed_at at time zone 'UTC')::date = '2024-01-15')""",
        "negative_quantities": """select count(distinct (i.purchase_id, i.line))
            from purchase_item i join purchase p
            on p.id = i.purchase_id where (p.placed_at at time zone 'UTC')::date = '2024-01-15'
            and i.quantity < 0""",
        "bad_totals": """select count(*) from purchase_item i join purchase p
            on p.id = i.purchase_id where (p.placed_at at time zone 'UTC')::date = '2024-01-15'
            and i.total_cents <> i.quantity * i.unit_price_cents - i.discount_cents""",
        "unknown_skus": """select count(*) from purchase_item i join purchase p
            on p.id = i.purchase_id where (p.placed_at at time zone 'UTC')::date = '2024-01-15'
            and not exists (select 1 from product x where x.code = i.product_code)""",
        "late_events": """select count(*) from purchase_status
            where (changed_at at time zone 'UTC')::date = '2024-01-15'
            and recorded_day > '2024-01-15'""",
    },
    "retailer3": {
        "duplicate_lines": """select count(*) from (select 1 from sales_item i
            join sales_header h on h.id = i.header_id
            where (h.created_at at time zone 'UTC')::date = '2024-01-15'
            group by i.header_id, i.position having count(*) > 1) d""",
        "missing_emails": """select count(*) from client_version v where v.mail = ''
            and v.client_id in (select client_id from sales_header
                                where (created_at at time zone 'UTC')::date = '2024-01-15')""",
        "negative_quantities": """select count(distinct (i.header_id, i.position))
            from sales_item i join sales_header h
            on h.id = i.header_id where (h.created_at at time zone 'UTC')::date = '2024-01-15'
            and i.quantity < 0""",
        "bad_totals": """select count(*) from sales_item i join sales_header h
            on h.id = i.header_id where (h.created_at at time zone 'UTC')::date = '2024-01-15'
            and i.line_total <> i.quantity * i.unit_price - i.discount""",
        "unknown_skus": """select count(*) from sales_item i join sales_header h
            on h.id = i.header_id where (h.created_at at time zone 'UTC')::date = '2024-01-15'
            and not exists (select 1 from article a where a.article_number = i.article_number)""",
        "late_events": """select count(*) from sales_event
            where (occurred_at at time zone 'UTC')::date = '2024-01-15'
            and reported_on > '2024-01-15'""",
    },
}

PRICE_MISMATCHES = {
    "retailer1": """select count(*) from sales_order_line l join sales_order o using (order_id)
        join lateral (select price from item_price p where p.sku = l.sku
                      and p.effective_ts <= o.order_ts order by effective_ts desc limit 1) cur
        on true where cur.price <> l.unit_price""",
    "retailer2": """select count(*) from purchase_item i join purchase p on p.id = i.purchase_id
        join lateral (select price_cents from product_price x where x.code = i.product_code
                      and x.valid_from <= p.placed_at order by valid_from desc limit 1) cur
        on true where cur.price_cents <> i.unit_price_cents""",
    "retailer3": """select count(*) from sales_item i join sales_header h on h.id = i.header_id
        join lateral (select price from article_price x where x.article_number = i.article_number
                      and x.valid_from <= h.created_at order by valid_from desc limit 1) cur
        on true where cur.price <> i.unit_price""",
}


@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer2", "retailer3"])
def test_every_fault_kind_occurs_on_the_first_day(retailer_apps, retailer_id):
    url = retailer_apps.database_urls[retailer_id]
    found = {kind: query(url, sql)[0][0] for kind, sql in FAULT_QUERIES[retailer_id].items()}
    assert all(found.values()), found
    seeded = query(url, "select faults from sim.seeded_day where day = '2024-01-15'")[0][0]
    assert found["negative_quantities"] == seeded["negative_quantities"]
    assert found["duplicate_lines"] == seeded["duplicate_lines"]


@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer2", "retailer3"])
def test_line_prices_are_the_catalog_price_at_order_time(retailer_apps, retailer_id):
    url = retailer_apps.database_urls[retailer_id]
    assert query(url, PRICE_MISMATCHES[retailer_id])[0][0] == 0
    # Prices do change: some products have several prices within the seeded days.
    table = {"retailer1": "item_price where effective_ts",
             "retailer2": "product_price where valid_from",
             "retailer3": "article_price where valid_from"}[retailer_id]
    assert query(url, f"select count(*) from {table} between '2024-01-15' and '2024-01-18'"
                 )[0][0] > 0


@pytest.fixture(scope="module")
def big_week():
    """Two weeks of one retailer at a realistic volume, in memory."""
    master = build_master(get_spec("retailer1").profile,
                          Volumes(seed=42, products=400, customers=3000, stores=12,
                                  fault_rate=0.01, price_change_rate=0.02,
                                  customer_change_rate=0.002))
    days = [dt.date(2024, 3, 4) + dt.timedelta(days=i) for i in range(14)]
    return master, [generate_day(master, d, 2000) for d in days]


def test_baskets_quantities_and_popularity(big_week):
    master, days = big_week
    # Distinct lines (slots 0-7 of the line key; 8-15 hold duplicated rows).
    lines_per_order = np.concatenate([
        np.bincount(np.searchsorted(d.orders.order_no, d.lines.order_no[d.lines.line_key % 16 < 8]))
        for d in days])
    assert 2.8 < lines_per_order.mean() < 3.4 and abs(mean_basket() - 3.08) < 0.01
    assert lines_per_order.min() == 1 and lines_per_order.max() == 8
    products = Counter(np.concatenate([d.lines.product_no for d in days]).tolist())
    top = sum(n for _, n in products.most_common(40))  # the top 10% of 400 products
    assert top / sum(products.values()) > 0.4, "Zipf-like popularity"


def test_weekly_seasonality_and_repeat_customers(big_week):
    master, days = big_week
    by_weekday = {d.day.weekday(): len(d.orders.order_no) for d in days[:7]}
    assert by_weekday[5] > by_weekday[1], "Saturdays sell more than Tuesdays"
    assert WEEKDAY_FACTOR[5] > WEEKDAY_FACTOR[1]
    customers = Counter(np.concatenate([d.orders.customer_no for d in days]).tolist())
    repeat_orders = sum(n for n in customers.values() if n > 1)
    assert repeat_orders / sum(customers.values()) > 0.5


def test_lifecycle_timing(big_week):
    _, days = big_week
    d = days[0]
    created = dict(zip(d.orders.order_no.tolist(), d.orders.created_s.tolist(), strict=True))
    by_type: dict[int, list[float]] = {}
    for order, code, at in zip(d.events.order_no.tolist(), d.events.event.tolist(),
                               d.events.occurred_s.tolist(), strict=True):
        by_type.setdefault(code, []).append(at - created[order])
    paid = np.array(by_type[1]) / 60
    assert 0.85 < len(paid) / len(created) < 0.98 and np.median(paid) < 10  # minutes
    shipped_days = np.array(by_type[2]) / 86400
    assert shipped_days.max() < 4.5
    assert 0 < len(by_type[4]) < 0.15 * len(created)  # canceled
    assert 0 < len(by_type[5]) < 0.1 * len(created)   # refunded
    reported_late = d.events.reported_day > d.events.occurred_s // 86400
    assert 0 < reported_late.mean() < 0.05



def test_every_change_is_reported_within_the_servers_window(big_week):
    """The servers read only MAX_CHANGE_LAG_DAYS of order partitions for a day's changes
    (Day.order_window): a change reported later would be missing from its day."""
    from retailers.generator.calendar import MAX_CHANGE_LAG_DAYS, PG_EPOCH

    _, days = big_week
    for d in days:
        lag_days = d.events.reported_day - (d.day - PG_EPOCH).days
        assert lag_days.min() >= 0
        assert lag_days.max() <= MAX_CHANGE_LAG_DAYS, d.day
    assert max(int((d.events.reported_day - (d.day - PG_EPOCH).days).max()) for d in days) > 14
