"""Normalization: each adapter's mapping and the engine's bookkeeping (normalize.py and the
`*Normalizer` classes of connectors/)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from services.ingestion.connectors.base import Page
from services.ingestion.connectors.retailer1 import Retailer1Normalizer
from services.ingestion.connectors.retailer2 import Retailer2Normalizer
from services.ingestion.connectors.retailer3 import OrderCreatedIndex, Retailer3Normalizer
from shared.canonical import ENTITIES, REJECTED_FIELDS
from tests.ingestion import samples

NORMALIZERS = {"retailer1": Retailer1Normalizer, "retailer2": Retailer2Normalizer,
               "retailer3": Retailer3Normalizer}
# What legitimately differs between retailers once normalized.
SCOPED = ("retailer_id", "currency")


def _normalize(retailer_id: str, pages: list[Page], day: dt.date = samples.DAY):
    normalizer = NORMALIZERS[retailer_id](day)
    return normalizer, normalizer.normalize_all(pages)


def _comparable(silver: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {entity: sorted(({k: v for k, v in r.items() if k not in SCOPED} for r in records),
                           key=repr)
            for entity, records in silver.items()}


def test_three_shapes_give_the_same_canonical_records():
    results = {rid: _normalize(rid, samples.PAGES[rid]())[1] for rid in NORMALIZERS}
    assert all(not batch.rejected for batch in results.values())
    r1, r2, r3 = (_comparable(results[rid].silver) for rid in NORMALIZERS)
    # stores and customers differ in what each retailer knows (regions); compare the rest
    for entity in ("products", "orders", "order_lines", "order_events"):
        assert r1[entity] == r2[entity] == r3[entity], entity
    line = results["retailer2"].silver["order_lines"][1]
    assert line == {"retailer_id": "retailer2", "order_id": "1001", "line_number": 2,
                    "product_id": "NW-0077", "created_at": "2024-01-15T13:45:12Z",
                    "quantity": 1, "unit_price": "5.50", "discount": "0.50",
                    "line_total": "5.00", "currency": "USD"}
    assert results["retailer3"].silver["orders"][0]["currency"] == "EUR"
    assert results["retailer1"].silver["orders"][0]["order_total"] == "30.98"
    channels = {rid: results[rid].silver["stores"][0]["channel"] for rid in NORMALIZERS}
    assert set(channels.values()) == {"web"}


@pytest.mark.parametrize("retailer_id", list(NORMALIZERS))
def test_records_have_exactly_the_canonical_fields_in_order(retailer_id):
    _, batch = _normalize(retailer_id, samples.PAGES[retailer_id]())
    assert set(batch.silver) == set(ENTITIES)
    for entity, records in batch.silver.items():
        for record in records:
            assert tuple(record) == ENTITIES[entity]


def _r1_with_negative_line() -> list[Page]:
    pages = samples.retailer1_pages()
    pages[3].records[1]["qty"] = -1
    pages[3].records[1]["line_total"] = -5.5
    return pages


def test_negative_quantity_is_rejected_with_reason_and_amount():
    normalizer, batch = _normalize("retailer1", _r1_with_negative_line())
    assert [r["line_number"] for r in batch.silver["order_lines"]] == [1]
    [rejected] = batch.rejected
    assert tuple(rejected) == REJECTED_FIELDS
    assert rejected["entity"] == "order_lines"
    assert rejected["reason"] == "negative_quantity"
    assert rejected["field"] == "qty" and rejected["detail"] == "qty=-1"
    assert rejected["record_key"] == "1001:2"
    assert (rejected["amount"], rejected["currency"]) == ("-5.50", "USD")
    assert rejected["record"]["qty"] == -1  # as received
    assert normalizer.rejected_cents == {"order_lines": -550}
    # the order itself is still normalized; its total is what the retailer holds
    assert batch.silver["orders"][0]["order_total"] == "20.48"


@pytest.mark.parametrize("retailer_id", list(NORMALIZERS))
def test_received_is_always_normalized_plus_rejected(retailer_id):
    pages = samples.PAGES[retailer_id]()
    # a little of everything: a malformed record, a bad timestamp, an unknown status
    last = pages[-1].records
    last.append("not an object")
    bad = copy.deepcopy(pages[0].records[0])
    pages[0].records.append({**bad, **{k: "not a date" for k in bad if "ts" in k or "at" in k}})
    normalizer, batch = _normalize(retailer_id, pages)
    total_rejected = 0
    for entity, counts in normalizer.counts.items():
        assert counts.received == counts.normalized + counts.rejected, entity
        assert counts.normalized == len(batch.silver.get(entity, []))
        total_rejected += counts.rejected
    assert total_rejected == len(batch.rejected) >= 1


def test_duplicates_missing_emails_bad_totals_and_unknown_skus_pass_through():
    pages = samples.retailer2_pages()
    order = pages[3].records[0]
    order["items"].append(copy.deepcopy(order["items"][0]))  # served twice
    order["items"][1]["total_cents"] = 999                   # does not add up
    order["items"][1]["product_code"] = "NOT-IN-CATALOG"
    pages[2].records[0]["email"] = ""
    normalizer, batch = _normalize("retailer2", pages, samples.CREATED_DAY)
    assert not batch.rejected
    assert len(batch.silver["order_lines"]) == 3
    assert batch.silver["customers"][0]["email"] is None
    assert batch.silver["order_lines"][1]["line_total"] == "9.99"
    # reconciliation counts the duplicated line once, as the retailer's control totals do
    assert normalizer.control.line_count == 2
    assert normalizer.control.cents == 2598 + 999
    assert normalizer.control.duplicate_lines == 1


def test_unknown_fields_are_counted_per_resource_and_field():
    pages = samples.retailer2_pages()
    for order in pages[3].records:
        order["gift_wrap"] = True
        order["items"][0]["engraving"] = "A.L."
    pages[0].records[0]["opening_hours"] = "9-5"
    normalizer, batch = _normalize("retailer2", pages)
    assert dict(normalizer.unknown_fields) == {"orders.gift_wrap": 1,
                                               "orders.items.engraving": 1,
                                               "channels.opening_hours": 1}
    assert len(batch.silver["orders"]) == 1  # still normalized


def test_retailer1_order_spanning_two_pages_is_one_order():
    pages = samples.retailer1_pages()
    lines = pages.pop()
    pages += [Page("order-lines", 1, lines.records[:1], 0),
              Page("order-lines", 2, lines.records[1:], 0)]
    normalizer = Retailer1Normalizer(samples.DAY)
    batches = [normalizer.normalize(p) for p in pages]
    assert all("orders" not in b.silver for b in batches)  # still open after page 2
    final = normalizer.finish()
    assert [o["order_total"] for o in final.silver["orders"]] == ["30.98"]
    assert [e["event_type"] for e in final.silver["order_events"]] == ["paid", "shipped"]


def test_retailer1_order_with_unreadable_fields_rejects_order_and_lines():
    pages = samples.retailer1_pages()
    for line in pages[3].records:
        line["order_status"] = "lost_in_space"
    normalizer, batch = _normalize("retailer1", pages)
    reasons = {(r["entity"], r["reason"]) for r in batch.rejected}
    assert reasons == {("orders", "unknown_status"), ("order_lines", "unknown_status")}
    assert normalizer.counts["order_lines"].rejected == 2
    assert "orders" not in batch.silver and "order_events" not in batch.silver


def test_retailer2_history_restating_creation_is_not_an_event():
    pages = samples.retailer2_pages()
    pages[3].records[0]["status_history"].insert(
        0, {"status": "created", "at": "2024-01-15T08:45:12-05:00"})
    normalizer, batch = _normalize("retailer2", pages)
    assert [e["event_type"] for e in batch.silver["order_events"]] == ["paid", "shipped"]
    assert normalizer.counts["order_events"].received == 2


def test_retailer3_items_take_their_orders_creation_time():
    pages = samples.retailer3_pages()
    pages[4].records.append({**samples.R3_ITEMS[0], "orderNumber": "9999"})
    normalizer, batch = _normalize("retailer3", pages)
    assert {line["created_at"] for line in batch.silver["order_lines"]} == \
        {"2024-01-15T13:45:12Z"}
    [orphan] = batch.rejected
    assert orphan["reason"] == "missing_field" and "9999" in orphan["detail"]


def test_order_created_index_finds_every_order_and_nothing_else():
    index = OrderCreatedIndex()
    for i in range(5000):
        index.add(f"ORD-{i}", f"2024-01-15T{i % 24:02d}:{i % 60:02d}:00Z")
    found = index.lookup([f"ORD-{i}" for i in range(0, 5000, 7)] + ["ORD-x"])
    assert found[:-1] == [f"2024-01-15T{i % 24:02d}:{i % 60:02d}:00Z"
                          for i in range(0, 5000, 7)]
    assert found[-1] is None
