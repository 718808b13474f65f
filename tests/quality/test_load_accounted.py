"""`order_lines_load_accounted` on partitions really loaded (issue #14, defect 2).

The duplicate-share rule used to fail a run whose later date carried only a few late
lifecycle lines, one of them served twice: 1 of 3 lines is 33%, above the 20% limit, and
the message blamed the dedup key for collapsing distinct lines, although the two copies
were identical. A share needs a population, and exact copies are not distinct lines.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from services.quality.checks import REGISTRY, CheckRegistry
from services.quality.runner import CheckResult, evaluate_run
from services.quality.settings import get_settings
from tests.factories import PartitionData, generate_day, money, new_run

R = "retailer2"
DAY = dt.date(2024, 3, 4)
CHECK = "order_lines_load_accounted"


def judge(engine, run_id: str, day: dt.date) -> CheckResult:
    registry = CheckRegistry([REGISTRY.get(CHECK)])
    with engine.begin() as conn:
        [result] = evaluate_run(conn, registry, run_id=run_id, run_date=day, retailers=[R],
                                settings=get_settings().quality, now=dt.datetime.now(dt.UTC),
                                include_run_wide=False)
    return result


def load(lake, data: PartitionData, **land) -> str:
    run_id = new_run(lake.engine, data.run_date, [R])
    lake.land(data, run_id=run_id, **land)
    lake.load(run_id, R, data.run_date)
    return run_id


def staged_lines(lake, run_id: str) -> dict:
    return lake.scalar("select counts -> 'staged' -> 'order_lines' from ops.run_step "
                       "where run_id = :r and step = 'transform'", r=run_id)


def test_a_later_day_of_three_late_lines_one_served_twice_passes(lake, quality_db) -> None:
    first = generate_day(R, DAY, orders=20)
    load(lake, first)
    # The next day carries only an update of one order of the first day (it shipped), with
    # its two lines, the first served twice: 3 silver lines, 2 distinct.
    order = next(o for o in first.orders
                 if sum(x["order_id"] == o["order_id"] for x in first.order_lines) == 2)
    lines = [x for x in first.order_lines if x["order_id"] == order["order_id"]]
    later = PartitionData(R, DAY + dt.timedelta(days=1), orders=[{**order, "status": "shipped"}],
                          order_lines=lines)
    run_id = load(lake, later, duplicate_lines=1)

    assert staged_lines(lake, run_id) == {"records": 3, "duplicates": 1, "exact_duplicates": 1}
    result = judge(lake.engine, run_id, later.run_date)
    assert result.status == "pass", result.message
    assert "collapses" not in result.message
    assert Decimal(str(result.observed)) == 0
    # The warehouse holds each line once, with the first day's money.
    assert lake.scalar("select count(*) from warehouse.fact_sales where order_id = :o",
                       o=order["order_id"]) == 2
    assert money(lake.scalar("select sum(line_total) from warehouse.fact_sales "
                             "where order_id = :o", o=order["order_id"])) == money(
        sum(Decimal(x["line_total"]) for x in lines))


def test_many_exact_copies_in_a_large_partition_pass(lake, quality_db) -> None:
    data = generate_day(R, DAY, orders=60)
    copies = len(data.order_lines) // 2  # a third of silver: above the 20% share
    run_id = load(lake, data, duplicate_lines=copies)

    assert staged_lines(lake, run_id) == {"records": len(data.order_lines) + copies,
                                          "duplicates": copies, "exact_duplicates": copies}
    result = judge(lake.engine, run_id, DAY)
    assert result.status == "pass", result.message
    assert f"{copies} exact copies, 0 differing" in result.message


def test_differing_lines_under_one_key_in_a_large_partition_fail(lake, quality_db) -> None:
    data = generate_day(R, DAY, orders=60)
    n = len(data.order_lines) // 2
    # The same (order, line) served again with another quantity: what a wrong dedup key
    # would do to distinct lines. A third of silver differs from the line kept.
    data.order_lines += [{**x, "quantity": x["quantity"] + 5} for x in data.order_lines[:n]]
    run_id = load(lake, data)

    assert staged_lines(lake, run_id) == {"records": len(data.order_lines), "duplicates": n,
                                          "exact_duplicates": 0}
    result = judge(lake.engine, run_id, DAY)
    assert result.status == "fail", result.message
    assert "the dedup key collapses distinct lines" in result.message
    assert result.sample[0]["duplicates_removed"] == n


def test_differing_lines_in_a_tiny_partition_are_not_judged_by_share(lake, quality_db) -> None:
    data = generate_day(R, DAY, orders=3)
    data.order_lines += [{**x, "quantity": x["quantity"] + 5} for x in data.order_lines]
    assert len(data.order_lines) < get_settings().quality.duplicate_min_lines
    run_id = load(lake, data)

    result = judge(lake.engine, run_id, DAY)
    assert result.status == "pass", result.message
    assert "the share is not judged" in result.message
