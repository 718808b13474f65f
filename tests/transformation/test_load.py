"""services/transformation/load.py: one partition, one transaction, idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import text

from services.transformation import load as load_module
from services.transformation.replay import replay_date
from tests.factories import (
    PartitionData,
    at,
    customer,
    finish_run,
    generate_day,
    gz_lines,
    line,
    new_run,
    order,
    product,
    rejected,
    store,
)

DAY = dt.date(2024, 1, 15)
RETAILERS = ("retailer1", "retailer2", "retailer3")


def three_retailers(day: dt.date = DAY, orders: int = 40) -> list[PartitionData]:
    return [generate_day(r, day, orders=orders, seed=i) for i, r in enumerate(RETAILERS)]


def test_loading_the_same_partitions_twice_leaves_every_table_identical(lake):
    parts = three_retailers()
    first = lake.land_and_load(*parts)
    before = lake.checksum()
    assert lake.scalar("select count(*) from warehouse.fact_sales") == sum(
        len(p.order_lines) for p in parts)

    # A replay reads the same stored objects under a new run: nothing may change.
    replay = replay_date(DAY, send=False, engine=lake.engine)
    for r in RETAILERS:
        result = lake.load(replay, r, DAY)
        assert result is not None
        sales = result.counts["fact_sales"]
        assert (sales["inserted"], sales["updated"]) == (0, 0)
        assert sales["unchanged"] == len(next(p for p in parts if p.retailer_id == r).order_lines)
        assert result.counts["dim_product"] == {"inserted": 0, "updated": 0, "unchanged": 20,
                                                "inferred": 0}
    assert lake.checksum() == before
    # Unchanged rows keep the run that last wrote them.
    assert lake.rows("select distinct run_id::text from warehouse.fact_sales") == [(first,)]


def test_a_duplicate_delivery_of_a_finished_step_does_nothing(lake):
    data = generate_day("retailer1", DAY, orders=10)
    run_id = lake.land_and_load(data, finish=False)
    before = lake.checksum()
    assert lake.load(run_id, "retailer1", DAY).status == "skipped"
    assert lake.checksum() == before


def test_duplicate_lines_in_a_partition_load_once(lake):
    data = generate_day("retailer2", DAY, orders=20)
    run_id = new_run(lake.engine, DAY, ["retailer2"])
    lake.land(data, run_id=run_id, duplicate_lines=7)
    result = lake.load(run_id, "retailer2", DAY)
    assert result.counts["staged"]["order_lines"] == {"records": len(data.order_lines) + 7,
                                                      "duplicates": 7, "exact_duplicates": 7}
    assert lake.scalar("select count(*) from warehouse.fact_sales") == len(data.order_lines)
    expected = sum(Decimal(x["line_total"]) for x in data.order_lines)
    assert lake.scalar("select sum(line_total) from warehouse.fact_sales") == expected


def test_a_partition_in_eur_is_converted_to_usd_at_the_rate_of_the_order_day(lake):
    data = generate_day("retailer3", DAY, orders=15)
    lake.land_and_load(data)
    rate = lake.scalar("select usd_per_unit from warehouse.fx_rate "
                       "where currency = 'EUR' and rate_date = :d", d=DAY)
    expected = sum(
        (Decimal(x["line_total"]) * rate).quantize(Decimal("0.01")) for x in data.order_lines)
    assert lake.scalar("select sum(line_total_usd) from warehouse.fact_sales") == expected
    assert lake.scalar("select gross_revenue_usd from marts.daily_revenue "
                       "where retailer_id = 'retailer3'") == expected
    assert lake.scalar("select count(distinct currency) from warehouse.fact_sales") == 1


def test_rejected_records_are_loaded_and_replaced_per_run(lake):
    data = generate_day("retailer1", DAY, orders=5)
    data.rejected = [
        rejected("order_lines", "negative_quantity", {"qty": -2}, record_key="o1:1",
                 amount="12.34", detail="qty=-2", field="qty"),
        rejected("orders", "bad_currency", {"cur": "Dollars"}, record_key="o2",
                 amount="not money", currency="Dollars"),
    ]
    run_id = lake.land_and_load(data, finish=False)
    rows = lake.rows("select entity, reason, record_key, amount, currency, payload "
                     "from ops.rejected_record where run_id = :r order by record_key", r=run_id)
    assert rows == [("order_lines", "negative_quantity", "o1:1", Decimal("12.34"), "USD",
                     {"qty": -2}),
                    ("orders", "bad_currency", "o2", None, None, {"cur": "Dollars"})]


def test_a_failing_load_leaves_nothing_behind(lake, monkeypatch):
    data = generate_day("retailer1", DAY, orders=20)
    data.rejected = [rejected("orders", "missing_field", {}, record_key="x")]
    empty = lake.checksum()
    run_id = new_run(lake.engine, DAY, ["retailer1"])
    lake.land(data, run_id=run_id)

    def broken_refresh(cur, dates, retailers):  # the last step before complete_step
        raise RuntimeError("disk full")

    monkeypatch.setattr(load_module.marts, "refresh", broken_refresh)
    failed = lake.load(run_id, "retailer1", DAY)
    assert failed.status == "retry" and "disk full" in failed.error
    assert lake.checksum() == empty
    assert lake.scalar("select count(*) from ops.rejected_record") == 0
    step = lake.rows("select status, attempts, error, counts from ops.run_step "
                     "where run_id = :r and step = 'transform'", r=run_id)[0]
    assert step.status == "pending" and step.attempts == 1
    assert "disk full" in step.error and step.counts == {}

    monkeypatch.undo()  # the retry loads the whole partition
    assert lake.load(run_id, "retailer1", DAY).status == "succeeded"
    assert lake.scalar("select count(*) from warehouse.fact_sales") == len(data.order_lines)


def test_a_permanent_error_fails_the_step_and_hands_the_run_over(lake):
    data = PartitionData("retailer1", DAY)
    data.stores = [store("retailer1", "S1")]
    data.customers = [customer("retailer1", "C1", at(DAY))]
    data.products = [product("retailer1", "P1", at(DAY))]
    bad = order("retailer1", "O1", "C1", "S1", at(DAY, 9), currency="XYZ")  # no FX rate
    data.add_order(bad, [line("retailer1", "O1", 1, "P1", at(DAY, 9), currency="XYZ")])
    run_id = new_run(lake.engine, DAY, ["retailer1"])
    lake.land(data, run_id=run_id)
    failed = lake.load(run_id, "retailer1", DAY)
    assert failed.status == "failed" and "XYZ" in failed.error
    assert lake.scalar("select count(*) from warehouse.dim_product") == 0
    assert lake.rows("select step, status from ops.run_step where run_id = :r order by step",
                     r=run_id) == [("ingest", "succeeded"), ("quality", "queued"),
                                   ("transform", "failed")]


def test_an_object_that_differs_from_its_manifest_is_refused(lake, settings):
    data = generate_day("retailer1", DAY, orders=5)
    run_id = new_run(lake.engine, DAY, ["retailer1"])
    lake.land(data, run_id=run_id)
    key = lake.scalar("select o->>'key' from ops.manifest, "
                      "jsonb_array_elements(manifest->'objects') o "
                      "where o->>'entity' = 'order_lines'")
    lake.s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=gz_lines(data.order_lines[:-1]))
    failed = lake.load(run_id, "retailer1", DAY)
    assert failed.status == "failed" and "PartitionCorrupt" in failed.error
    assert lake.scalar("select count(*) from warehouse.fact_orders") == 0


def test_replay_reads_the_latest_manifest_of_the_date(lake):
    old = generate_day("retailer1", DAY, orders=5, seed=1)
    lake.land_and_load(old)
    newer = generate_day("retailer1", DAY, orders=8, seed=1)
    run_id = new_run(lake.engine, DAY, ["retailer1"])
    lake.land(newer, run_id=run_id)   # landed but never loaded
    finish_run(lake.engine, run_id)
    replay = replay_date(DAY, ["retailer1"], send=False, engine=lake.engine)
    result = lake.load(replay, "retailer1", DAY)
    assert result.counts["source_run_id"] == run_id
    assert lake.scalar("select count(*) from warehouse.fact_orders") == 8


def test_a_manifest_of_an_unknown_major_version_is_refused_not_misread(lake):
    data = generate_day("retailer1", DAY, orders=5)
    run_id = new_run(lake.engine, DAY, ["retailer1"])
    lake.land(data, run_id=run_id)
    with lake.engine.begin() as conn:  # a newer ingestion wrote a shape we do not know
        conn.execute(text("update ops.manifest set manifest = jsonb_set(manifest, "
                          "'{version}', '\"2.0\"') where run_id = :r"), {"r": run_id})
    failed = lake.load(run_id, "retailer1", DAY)
    assert failed.status == "failed"  # permanent: loading it again cannot help
    assert "manifest version 2.0 is not supported" in failed.error
    assert lake.scalar("select count(*) from warehouse.fact_sales") == 0
    assert lake.rows("select step, status from ops.run_step where run_id = :r order by step",
                     r=run_id) == [("ingest", "succeeded"), ("quality", "queued"),
                                   ("transform", "failed")]


def test_silver_of_an_older_lake_in_json_lines_loads_as_parquet_does(lake, monkeypatch):
    from services.transformation import staging

    monkeypatch.setattr(staging, "SILVER_BATCH_ROWS", 7)  # several batches per object
    parts = three_retailers(orders=25)
    old_run = new_run(lake.engine, DAY, list(RETAILERS))
    for p in parts:   # silver as written before it was Parquet, in parts of 20 records
        lake.land(p, run_id=old_run, json_lines_silver=True, part_lines=20)
        assert lake.load(old_run, p.retailer_id, DAY).status == "succeeded"
    finish_run(lake.engine, old_run)
    assert lake.scalar("select count(*) from warehouse.fact_sales") == sum(
        len(p.order_lines) for p in parts)
    before = lake.checksum()

    # The same records as Parquet under a new run: every row is found unchanged.
    new = new_run(lake.engine, DAY, list(RETAILERS))
    for p in parts:
        lake.land(p, run_id=new)
        sales = lake.load(new, p.retailer_id, DAY).counts["fact_sales"]
        assert (sales["inserted"], sales["updated"]) == (0, 0)
        assert sales["unchanged"] == len(p.order_lines)
    assert lake.checksum() == before


def test_a_json_lines_silver_value_that_does_not_fit_its_type_is_refused(lake):
    data = generate_day("retailer1", DAY, orders=5)
    data.order_lines[0]["line_total"] = "12.345"  # a third decimal place: never rounded
    run_id = new_run(lake.engine, DAY, ["retailer1"])
    lake.land(data, run_id=run_id, json_lines_silver=True)
    failed = lake.load(run_id, "retailer1", DAY)
    assert failed.status == "failed" and "PartitionCorrupt" in failed.error
    assert "order_lines" in failed.error
    assert lake.scalar("select count(*) from warehouse.fact_sales") == 0
