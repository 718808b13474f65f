"""Each check passes on a clean day and catches the one fault seeded for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import text

from services.quality.checks import REGISTRY, CheckRegistry, Scope, Severity, SqlCheck, Status
from services.quality.deadlines import deadline
from services.quality.runner import CheckResult, evaluate_retailers, evaluate_run
from services.quality.settings import get_settings
from shared.settings import RETAILER_IDS
from tests.quality.seed import SeededRun, seed_history, seed_run

R = "retailer2"  # the retailer each fault is seeded into (key 2, USD)


def evaluate(engine, run: SeededRun, *, now: dt.datetime | None = None,
             registry: CheckRegistry = REGISTRY) -> dict[tuple[str, str], CheckResult]:
    with engine.begin() as conn:
        results = evaluate_run(conn, registry, run_id=run.run_id, run_date=run.run_date,
                               retailers=RETAILER_IDS, settings=get_settings().quality,
                               now=now or dt.datetime.now(dt.UTC))
    return {(r.retailer_id, r.check_name): r for r in results}


def sql(statement: str) -> Callable:
    """A fault written as one SQL statement; binds :o (an order of retailer2), :d, :run."""

    def inject(conn, run: SeededRun) -> None:
        conn.execute(text(statement), {"o": run.order(R, 1), "d": run.run_date,
                                       "run": run.run_id, "o0": run.order(R, 0)})

    return inject


MANIFEST = "update ops.manifest set manifest = {} where retailer_id = 'retailer2' and run_id = :run"

FAULTS = [
    # reconciliation
    ("line_lost", "reconcile_line_count", Status.FAIL,
     sql("delete from warehouse.fact_sales where retailer_key = 2 and order_id = :o "
         "and line_number = 2")),
    ("control_amount_off_by_a_cent", "reconcile_amount", Status.FAIL,
     sql(MANIFEST.format("jsonb_set(manifest, '{control_totals,amount}', to_jsonb(("
                         "(manifest #>> '{control_totals,amount}')::numeric + 0.01)::text))"))),
    ("rejected_amount_unreadable", "reconcile_amount", Status.WARN,
     sql("update ops.rejected_record set amount = null where retailer_id = 'retailer2' "
         "and run_id = :run")),
    ("manifest_counts_do_not_add_up", "manifest_counts_consistent", Status.FAIL,
     sql(MANIFEST.format("jsonb_set(manifest, '{counts,orders,received}', '5')"))),
    ("load_has_more_lines_than_silver", "order_lines_load_accounted", Status.FAIL,
     sql("update ops.run_step set counts = jsonb_set(counts, '{fact_sales,inserted}', '50') "
         "where run_id = :run and step = 'transform' and retailer_id = 'retailer2'")),
    ("load_dropped_more_than_the_duplicates", "order_lines_load_accounted", Status.FAIL,
     sql("update ops.run_step set counts = jsonb_set(counts, "
         "'{staged,order_lines,duplicates}', '3') where run_id = :run and step = 'transform' "
         "and retailer_id = 'retailer2'")),
    ("load_read_part_of_silver", "order_lines_load_accounted", Status.FAIL,
     sql("update ops.run_step set counts = counts #- '{staged}' || jsonb_build_object("
         "'staged', jsonb_build_object('order_lines', jsonb_build_object('records', 5, "
         "'duplicates', 0))) where run_id = :run and step = 'transform' "
         "and retailer_id = 'retailer2'")),
    # A share needs a population (QUALITY_DUPLICATE_MIN_LINES): silver says 100 lines.
    ("dedup_collapses_lines", "order_lines_load_accounted", Status.FAIL,
     sql("with m as (" + MANIFEST.format("jsonb_set(manifest, '{counts,order_lines,normalized}', "
                                         "'100')") + " returning 1) "
         "update ops.run_step set counts = jsonb_set(counts #- '{staged}', "
         "'{fact_sales,inserted}', '2') where run_id = :run and step = 'transform' "
         "and retailer_id = 'retailer2'")),
    ("rejected_share_high", "rejected_share", Status.WARN,
     sql(MANIFEST.format("jsonb_set(manifest, '{counts}', "
                         "'{\"order_lines\": {\"received\": 100, \"normalized\": 90, "
                         "\"rejected\": 10}}')"))),
    ("rejected_share_very_high", "rejected_share", Status.FAIL,
     sql(MANIFEST.format("jsonb_set(manifest, '{counts}', "
                         "'{\"order_lines\": {\"received\": 100, \"normalized\": 70, "
                         "\"rejected\": 30}}')"))),
    ("unknown_field", "schema_drift", Status.WARN,
     sql(MANIFEST.format("jsonb_set(manifest, '{unknown_fields}', "
                         "'{\"order-lines.gift_wrap\": 9}')"))),
    # freshness
    ("transform_dead", "partition_complete_by_deadline", Status.FAIL,
     sql("update ops.run_step set status = 'dead', error = 'boom' where run_id = :run "
         "and step = 'transform' and retailer_id = 'retailer2'")),
    # uniqueness
    # (a load stamps every version it writes with its run: the checks compare those members)
    ("customer_versions_overlap", "dim_customer_versions_unique", Status.FAIL,
     sql("insert into warehouse.dim_customer (retailer_id, customer_id, valid_from, valid_to, "
         "is_current, run_id) values ('retailer2', 'C1', '2021-01-01', '2022-01-01', false, "
         "cast(:run as uuid))")),
    ("product_without_current_version", "dim_product_versions_unique", Status.FAIL,
     sql("update warehouse.dim_product set is_current = false, valid_to = '2021-01-01', "
         "run_id = cast(:run as uuid) where retailer_id = 'retailer2' and product_id = 'P3'")),
    ("line_stored_twice", "fact_sales_key_unique", Status.FAIL,
     sql("insert into warehouse.fact_sales select retailer_key, lower(order_id), line_number, "
         "order_date, order_date_key, created_at, customer_key, product_key, store_key, "
         "quantity, unit_price, discount, line_total, currency, line_total_usd, run_id, "
         "loaded_at from warehouse.fact_sales where retailer_key = 2 and order_id = :o "
         "and line_number = 1")),
    ("order_stored_twice", "fact_orders_key_unique", Status.FAIL,
     sql("insert into warehouse.fact_orders select retailer_key, ' ' || order_id, order_date, "
         "order_date_key, customer_key, store_key, status, created_at, paid_at, shipped_at, "
         "delivered_at, canceled_at, refunded_at, line_count, order_total, order_total_usd, "
         "currency, run_id, updated_at from warehouse.fact_orders "
         "where retailer_key = 2 and order_id = :o")),
    # referential integrity
    ("line_product_missing", "fact_sales_product_key_exists", Status.FAIL,
     sql("update warehouse.fact_sales set product_key = 999999 where retailer_key = 2 "
         "and order_id = :o and line_number = 1")),
    ("line_customer_null", "fact_sales_customer_key_exists", Status.FAIL,
     sql("update warehouse.fact_sales set customer_key = null where retailer_key = 2 "
         "and order_id = :o and line_number = 1")),
    ("line_store_of_another_retailer", "fact_sales_store_key_exists", Status.FAIL,
     sql("update warehouse.fact_sales set store_key = (select min(store_key) from "
         "warehouse.dim_store where retailer_id = 'retailer1') where retailer_key = 2 "
         "and order_id = :o and line_number = 1")),
    ("order_customer_missing", "fact_orders_customer_key_exists", Status.FAIL,
     sql("update warehouse.fact_orders set customer_key = 999999 where retailer_key = 2 "
         "and order_id = :o")),
    ("order_store_null", "fact_orders_store_key_exists", Status.FAIL,
     sql("update warehouse.fact_orders set store_key = null where retailer_key = 2 "
         "and order_id = :o")),
    ("order_of_lines_missing", "fact_sales_order_exists", Status.FAIL,
     sql("delete from warehouse.fact_orders where retailer_key = 2 and order_id = :o")),
    ("unknown_sku_inferred", "inferred_members_completed", Status.WARN,
     sql("with p as (insert into warehouse.dim_product (retailer_id, product_id, valid_from, "
         "is_inferred) values ('retailer2', 'SKU-404', '2020-01-01', true) "
         "returning product_key) update warehouse.fact_sales set product_key = "
         "(select product_key from p) where retailer_key = 2 and order_id = :o "
         "and line_number = 1")),
    # business rules
    ("total_does_not_add_up", "line_total_matches", Status.WARN,
     sql("update warehouse.fact_sales set line_total = line_total + 0.05 "
         "where retailer_key = 2 and order_id = :o and line_number = 1")),
    ("negative_quantity_loaded", "quantity_positive", Status.FAIL,
     sql("update warehouse.fact_sales set quantity = -1 where retailer_key = 2 "
         "and order_id = :o and line_number = 1")),
    ("shipped_before_paid", "order_lifecycle_ordered", Status.WARN,
     sql("update warehouse.fact_orders set shipped_at = paid_at - interval '1 hour' "
         "where retailer_key = 2 and order_id = :o")),
    ("unknown_status", "order_status_valid", Status.FAIL,
     sql("update warehouse.fact_orders set status = 'lost' where retailer_key = 2 "
         "and order_id = :o")),
    # completeness
    ("missing_email", "customer_email_present", Status.WARN,
     sql("update warehouse.dim_customer set email = '' where retailer_id = 'retailer2' "
         "and customer_key = (select customer_key from warehouse.fact_orders "
         "where retailer_key = 2 and order_id = :o)")),
    ("product_without_category", "product_attributes_present", Status.WARN,
     sql("update warehouse.dim_product set category = null where retailer_id = 'retailer2' "
         "and product_key = (select product_key from warehouse.fact_sales "
         "where retailer_key = 2 and order_id = :o and line_number = 1)")),
]


def test_registry_has_every_kind_and_sensible_severities() -> None:
    kinds = {c.kind for c in REGISTRY}
    assert kinds >= {"reconciliation", "completeness", "uniqueness", "integrity",
                     "business_rule", "freshness", "volume", "rejects", "schema"}
    severity = {c.name: c.severity for c in REGISTRY}
    # What the retailers do at their fault rate warns; what loses data or breaks keys fails.
    for name in ("customer_email_present", "line_total_matches", "inferred_members_completed",
                 "volume_vs_same_weekday", "schema_drift"):
        assert severity[name] is Severity.WARNING, name
    for name in ("reconcile_line_count", "reconcile_amount", "fact_sales_key_unique",
                 "dim_customer_versions_unique", "fact_sales_product_key_exists"):
        assert severity[name] is Severity.CRITICAL, name
    with pytest.raises(ValueError):
        CheckRegistry([*REGISTRY, REGISTRY.get("quantity_positive")])


def test_clean_day_passes_every_check(quality_db, seeded_run) -> None:
    results = evaluate(quality_db, seeded_run)
    assert len(results) == len(RETAILER_IDS) * len(REGISTRY.for_scope(Scope.RETAILER_DATE)) \
        + len(REGISTRY.for_scope(Scope.RUN))
    not_passing = {k: (r.status, r.message) for k, r in results.items() if r.status != "pass"}
    assert not_passing == {}
    line_count = results[("retailer3", "reconcile_line_count")]
    assert line_count.observed == 0 and "+ 1 rejected" in line_count.message


@pytest.mark.parametrize("fault, check, expected, inject", FAULTS,
                         ids=[f[0] for f in FAULTS])
def test_check_catches_its_fault(quality_db, seeded_run, fault, check, expected,
                                 inject) -> None:
    with quality_db.begin() as conn:
        inject(conn, seeded_run)
    results = evaluate(quality_db, seeded_run)
    caught = results[(R, check)]
    assert caught.status == expected, caught.message
    if expected is not Status.PASS:
        assert caught.sample, "a broken rule comes with a sample of what broke it"
    # The fault belongs to retailer2: the same check of the other retailers still passes.
    for other in ("retailer1", "retailer3"):
        assert results[(other, check)].status == "pass", results[(other, check)].message


def test_reconciliation_samples_name_the_sides(quality_db, seeded_run) -> None:
    with quality_db.begin() as conn:
        FAULTS[0][3](conn, seeded_run)
    result = evaluate(quality_db, seeded_run)[(R, "reconcile_line_count")]
    lines = seeded_run.partitions[R].lines
    assert result.sample == [{"warehouse_lines": lines - 1, "rejected_lines": 1,
                              "control_line_count": lines + 1, "difference": -1,
                              "manifest_run_id": seeded_run.run_id}]
    assert result.observed == 1


def test_reconciliation_counts_a_rejected_line_once_and_only_for_the_day(
        quality_db, seeded_run) -> None:
    older = seeded_run.run_date - dt.timedelta(days=2)
    with quality_db.begin() as conn:
        old_run = seed_run(conn, older, retailers=(R,), status="succeeded")
        # The line rejected twice (served twice), and a line of an older order re-served
        # today because that order shipped today: neither is in today's control totals.
        conn.execute(text(
            "insert into ops.rejected_record (run_id, retailer_id, run_date, entity, reason, "
            "record_key, amount) values (:r, 'retailer2', :d, 'order_lines', "
            "'negative_quantity', :dup, 5.00), (:r, 'retailer2', :d, 'order_lines', "
            "'negative_quantity', :old, 7.00)"),
            {"r": seeded_run.run_id, "d": seeded_run.run_date,
             "dup": seeded_run.partitions[R].rejected_key, "old": f"{old_run.order(R)}:3"})
        # ...and the manifest says it rejected three records.
        conn.execute(text(MANIFEST.format(
            "jsonb_set(jsonb_set(jsonb_set(manifest, '{counts,order_lines,rejected}', '3'), "
            "'{counts,order_lines,received}', to_jsonb((manifest #>> "
            "'{counts,order_lines,received}')::int + 2)), '{objects,5,records}', '3')")),
            {"run": seeded_run.run_id})
    results = evaluate(quality_db, seeded_run)
    for check in ("reconcile_line_count", "reconcile_amount", "manifest_counts_consistent"):
        assert results[(R, check)].status == "pass", results[(R, check)].message


def test_partition_not_yet_due_only_warns(quality_db, seeded_run) -> None:
    with quality_db.begin() as conn:
        sql("update ops.run_step set status = 'failed' where run_id = :run "
            "and step = 'ingest' and retailer_id = 'retailer2'")(conn, seeded_run)
    due = deadline(seeded_run.run_date, get_settings().quality)
    early = evaluate(quality_db, seeded_run, now=due - dt.timedelta(hours=1))
    late = evaluate(quality_db, seeded_run, now=due + dt.timedelta(hours=1))
    assert early[(R, "partition_complete_by_deadline")].status == "warn"
    assert late[(R, "partition_complete_by_deadline")].status == "fail"
    assert "ingest failed" in late[(R, "partition_complete_by_deadline")].message


def test_overdue_dates_warn_but_a_backfill_of_an_old_date_passes(quality_db, due_date) -> None:
    now = dt.datetime.now(dt.UTC)
    with quality_db.begin() as conn:
        # The pipeline started three days ago; the two dates that became due since (before
        # the one judged) never ran.
        seed_run(conn, due_date - dt.timedelta(days=3), status="succeeded",
                 created_at=now - dt.timedelta(days=3))
        today = seed_run(conn, due_date, created_at=now - dt.timedelta(hours=1))
        backfill = seed_run(conn, due_date - dt.timedelta(days=200))
    result = evaluate(quality_db, today)[("*", "dates_complete_by_deadline")]
    assert result.status == "warn"
    assert result.observed == 2 * len(RETAILER_IDS)
    assert {s["run_date"] for s in result.sample} == {
        (due_date - dt.timedelta(days=d)).isoformat() for d in (1, 2)}
    # A date long before the pipeline started is history: its own run completes it.
    old = evaluate(quality_db, backfill)
    assert old[(R, "partition_complete_by_deadline")].status == "pass"
    # judged from the backfill, the due date's run is still in flight: left to its verdict
    assert old[("*", "dates_complete_by_deadline")].observed == 2 * len(RETAILER_IDS)


def test_volume_against_the_same_weekday(quality_db, seeded_run) -> None:
    day = seeded_run.run_date
    lines = seeded_run.partitions[R].lines
    with quality_db.begin() as conn:
        for weeks in (1, 2, 3):
            seed_history(conn, R, day - dt.timedelta(weeks=weeks), 100)
            # other weekdays do not count, however large
            seed_history(conn, "retailer1", day - dt.timedelta(weeks=weeks, days=1), 900)
        seed_history(conn, "retailer1", day - dt.timedelta(weeks=1), lines + 1)
    results = evaluate(quality_db, seeded_run)
    volume = results[(R, "volume_vs_same_weekday")]
    assert volume.status == "warn"
    assert float(volume.observed) == pytest.approx(1 - lines / 100)
    assert [s["lines"] for s in volume.sample] == [100, 100, 100, lines]
    assert results[("retailer1", "volume_vs_same_weekday")].status == "pass"
    assert results[("retailer3", "volume_vs_same_weekday")].message.endswith(
        "no same-weekday history in the last 4 weeks")


def test_a_broken_check_is_an_error_and_the_others_still_run(quality_db, seeded_run) -> None:
    broken = SqlCheck(name="broken_check", kind="test", description="selects from nowhere",
                      severity=Severity.CRITICAL, scope=Scope.RETAILER_DATE, threshold="0",
                      sql="select * from warehouse.no_such_table")
    registry = CheckRegistry([broken, REGISTRY.get("quantity_positive")])
    results = evaluate(quality_db, seeded_run, registry=registry)
    assert results[(R, "broken_check")].status == "error"
    assert "no_such_table" in results[(R, "broken_check")].message
    assert results[(R, "quantity_positive")].status == "pass"


def test_unknown_retailer_is_an_error_not_a_silent_pass(quality_db, seeded_run) -> None:
    with quality_db.begin() as conn:
        results = evaluate_run(conn, REGISTRY, run_id=seeded_run.run_id,
                               run_date=seeded_run.run_date, retailers=["retailer9"],
                               settings=get_settings().quality, now=dt.datetime.now(dt.UTC),
                               include_run_wide=False)
    assert {r.status for r in results} == {"error"}


def test_retailers_judged_side_by_side_give_the_results_of_one_connection(
        quality_db, seeded_run) -> None:
    # retailer2 carries a fault, so the comparison covers a failing check and its sample
    with quality_db.begin() as conn:
        conn.execute(text("update warehouse.fact_sales set quantity = -quantity "
                          "where retailer_key = 2 and order_id = :o"),
                     {"o": seeded_run.order(R, 1)})
    now = dt.datetime.now(dt.UTC)
    one = evaluate(quality_db, seeded_run, now=now)
    quality = get_settings().quality.model_copy(update={"check_workers": 3})
    side_by_side = evaluate_retailers(quality_db, REGISTRY, run_id=seeded_run.run_id,
                                      run_date=seeded_run.run_date, retailers=RETAILER_IDS,
                                      settings=quality, now=now)

    def outcome(r: CheckResult) -> tuple:
        return r.retailer_id, r.check_name, r.status, r.observed, r.message, r.sample

    retailer_scoped = [outcome(r) for r in one.values() if r.retailer_id != "*"]
    assert [outcome(r) for r in side_by_side] == retailer_scoped
    assert any(r.status != "pass" and r.retailer_id == R for r in side_by_side)
