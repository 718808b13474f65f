"""The canonical value helpers: money, timestamps, codes, keys (shared/canonical.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shared import canonical as c
from shared.canonical import InvalidRecord, RejectReason


@pytest.mark.parametrize(("value", "expected"), [
    (12.99, "12.99"), ("12.99", "12.99"), (12, "12.00"), (5.5, "5.50"), ("0", "0.00"),
    (Decimal("12.985"), "12.99"), (-3.1, "-3.10"), ("-0.00", "0.00"), (0.1 + 0.2, "0.30"),
])
def test_money_reads_numbers_and_strings_to_two_places(value, expected):
    assert c.money(value) == expected


@pytest.mark.parametrize(("value", "reason"), [
    (None, RejectReason.MISSING_FIELD), ("", RejectReason.MISSING_FIELD),
    ("12,99", RejectReason.BAD_NUMBER), ("NaN", RejectReason.BAD_NUMBER),
    (True, RejectReason.BAD_NUMBER),
])
def test_money_rejects_what_is_not_money(value, reason):
    with pytest.raises(InvalidRecord) as err:
        c.money(value, "price")
    assert err.value.reason is reason and err.value.field == "price"


@pytest.mark.parametrize(("cents", "expected"), [
    (1299, "12.99"), ("1299", "12.99"), (5, "0.05"), (-250, "-2.50"), (0, "0.00"),
])
def test_cents_to_money(cents, expected):
    assert c.cents_to_money(cents) == expected
    assert c.money_to_cents(expected) == int(cents)


def test_cents_must_be_whole():
    with pytest.raises(InvalidRecord) as err:
        c.cents_to_money(12.5, "total_cents")
    assert err.value.reason is RejectReason.BAD_NUMBER


@pytest.mark.parametrize(("value", "naive_tz", "expected"), [
    ("2024-01-15 13:45:12", dt.UTC, "2024-01-15T13:45:12Z"),
    ("2024-01-15T08:45:12-05:00", None, "2024-01-15T13:45:12Z"),
    ("2024-01-15T13:45:12.000Z", None, "2024-01-15T13:45:12Z"),
    ("2024-01-15T13:45:12.120Z", None, "2024-01-15T13:45:12.12Z"),
    # a local evening is the next UTC day
    ("2024-01-15T23:30:00-05:00", None, "2024-01-16T04:30:00Z"),
])
def test_timestamps_become_utc_with_z(value, naive_tz, expected):
    assert c.timestamp(value, "ts", naive_tz=naive_tz) == expected


@pytest.mark.parametrize("value", ["2024-01-15", "20240115T134512", "yesterday", 1705326312,
                                   "2024-13-15 10:00:00"])
def test_bad_timestamps_are_rejected(value):
    with pytest.raises(InvalidRecord) as err:
        c.timestamp(value, "ts", naive_tz=dt.UTC)
    assert err.value.reason is RejectReason.BAD_TIMESTAMP


@pytest.mark.parametrize("value", [
    "2024-01-15T08:45:12-05:00", "2024-01-15 08:45:12-05:00", "2024-01-15T23:59:59-05:00",
    "2024-03-10T01:30:00-05:00", "2024-03-10T03:30:00-04:00", "2024-01-01T00:00:00+01:00",
    "2024-02-29T22:15:00-03:00", "2023-12-31T23:00:00-01:00", "2024-01-15T08:45:12+00:00",
    "2024-01-15T08:45:12-00:00", "2024-01-15T08:45:12+05:30", "2024-01-15T08:45:12.5-05:00",
])
def test_offset_timestamps_match_datetime_arithmetic(value):
    # twice: the second call is served by the remembered (date, hour, offset)
    expected = c.utc_iso(dt.datetime.fromisoformat(value))
    assert c.timestamp(value, "at") == expected
    assert c.timestamp(value, "at") == expected


@pytest.mark.parametrize("value", [
    "2024-01-15T08:45:60-05:00", "2024-01-15T08:60:12-05:00", "2024-01-15T24:00:00-05:00",
    "2024-02-30T08:45:12-05:00", "2024-01-15T08:45:12-24:00",
])
def test_impossible_offset_timestamps_are_rejected_even_after_a_valid_one(value):
    c.timestamp("2024-01-15T08:10:00-05:00", "at")  # a neighbour is remembered first
    with pytest.raises(InvalidRecord) as err:
        c.timestamp(value, "at")
    assert err.value.reason is RejectReason.BAD_TIMESTAMP and err.value.field == "at"


@pytest.mark.parametrize(("value", "expected"), [
    ("3", 3), (" 3 ", 3), ("007", 7), (4, 4), (2.0, 2), ("\u0663", 3),
])
def test_integer_reads_whole_numbers(value, expected):
    assert c.integer(value, "position") == expected


def test_money_to_cents_is_the_same_when_remembered():
    for _ in range(2):
        assert c.money_to_cents("-12.30") == -1230
        assert c.money_to_cents("0.05") == 5


def test_naive_timestamp_without_a_known_zone_is_rejected():
    with pytest.raises(InvalidRecord) as err:
        c.timestamp("2024-01-15 13:45:12", "placed_at")
    assert err.value.reason is RejectReason.BAD_TIMESTAMP and "offset" in err.value.detail


def test_quantity_rejects_negative_with_its_own_reason():
    assert c.quantity("3") == 3
    with pytest.raises(InvalidRecord) as err:
        c.quantity(-2, "qty")
    assert (err.value.reason, err.value.detail, err.value.field) == \
        (RejectReason.NEGATIVE_QUANTITY, "qty=-2", "qty")


def test_codes_map_case_insensitively_and_reject_the_unknown():
    mapping = {"cancelled": "canceled"}
    assert c.code(" CANCELLED ", "type", mapping) == "canceled"
    with pytest.raises(InvalidRecord) as err:
        c.code("LOST", "type", mapping)
    assert err.value.reason is RejectReason.UNKNOWN_STATUS


def test_keys_are_strings_and_empty_text_is_null():
    assert c.key(1001, "order_id") == "1001"
    assert c.text_or_none("  ") is None and c.text_or_none(" a@b.c ") == "a@b.c"
    with pytest.raises(InvalidRecord):
        c.key(None, "order_id")
