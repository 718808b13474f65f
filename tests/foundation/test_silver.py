"""The silver format (shared/silver.py): canonical records <-> typed Parquet."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared import silver
from shared.canonical import ENTITIES
from tests.factories import generate_day

DAY = dt.date(2024, 1, 15)


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_entity_round_trips_to_the_same_canonical_records(entity):
    records = list(generate_day("retailer2", DAY, orders=40).records(entity))
    assert records
    body = silver.parquet_bytes(entity, records)
    assert list(silver.canonical_records(body, entity)) == records


def test_values_are_stored_typed_not_as_text():
    line = generate_day("retailer1", DAY, orders=1).order_lines[0]
    line = {**line, "created_at": "2024-01-15T13:45:12.12Z", "unit_price": "-0.50"}
    table = pq.read_table(io.BytesIO(silver.parquet_bytes("order_lines", [line])))
    assert table.schema == silver.SCHEMAS["order_lines"]
    row = table.to_pylist()[0]
    assert row["created_at"] == dt.datetime(2024, 1, 15, 13, 45, 12, 120000, tzinfo=dt.UTC)
    assert row["unit_price"] == Decimal("-0.50") and isinstance(row["quantity"], int)
    assert list(silver.canonical_records(
        silver.parquet_bytes("order_lines", [line]), "order_lines"))[0]["created_at"] == \
        "2024-01-15T13:45:12.12Z"


def test_absent_optional_fields_are_nulls():
    order = {**generate_day("retailer1", DAY, orders=1).orders[0], "customer_id": None}
    del order["store_id"]
    [back] = silver.canonical_records(silver.parquet_bytes("orders", [order]), "orders")
    assert back["customer_id"] is None and back["store_id"] is None


@pytest.mark.parametrize("field, value", [("unit_price", "1.234"), ("created_at", "yesterday"),
                                          ("line_total", "12345678901.00")])
def test_a_value_the_type_cannot_hold_exactly_is_an_error_not_a_rounding(field, value):
    line = {**generate_day("retailer1", DAY, orders=1).order_lines[0], field: value}
    with pytest.raises(silver.SilverValueError, match="order_lines"):
        silver.parquet_bytes("order_lines", [line])


def test_an_object_of_another_schema_or_format_is_refused():
    other = io.BytesIO()
    pq.write_table(pa.table({"order_id": ["1"]}), other)
    with pytest.raises(ValueError, match="not the silver schema of orders"):
        silver.open_object(other.getvalue(), "orders")
    with pytest.raises(ValueError, match="not a Parquet object"):
        silver.open_object(b'{"order_id": "1"}\n', "orders")
    # the right schema under another entity's name is refused too
    with pytest.raises(ValueError, match="not the silver schema of stores"):
        silver.open_object(silver.parquet_bytes("orders", []), "stores")
