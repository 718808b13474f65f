"""retailer5's files through the pipeline, with the real S3 server and PostgreSQL: the
inbox scan claims them, the ingest step lands them (same objects and manifest as every
retailer), transformation loads them; faults end as docs/ingestion.md says; a corrected
file restates its batch exactly."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from decimal import Decimal
from functools import partial

import orjson
import pytest
from sqlalchemy import text

from retailers.retailer5.drop import drop
from retailers.retailer5.files import Faults, Quirks, day_files
from retailers.settings import GeneratorSettings
from services.ingestion.files.inbox import scan
from services.ingestion.files.step import ingest_file
from services.ingestion.settings import InboxSettings, get_worker_settings
from shared import ops
from shared.steps import run_step
from tests.fixtures.ingestion import make_run
from tests.ingestion.files_truth import accepted_lines, daily

DAY = dt.date(2024, 3, 12)
R5 = "retailer5"
GEN = GeneratorSettings(orders_per_day=40, seed=7)


class Receiver:
    """A local HTTP server that keeps every JSON body posted to it (the alert webhook)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers["Content-Length"])
                outer.bodies.append(orjson.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def env(clean_warehouse, clean_bucket, receiver, settings):
    receiver.bodies.clear()
    worker = get_worker_settings()
    inbox = InboxSettings(alert_webhook_url=receiver.url, control_wait_seconds=0)
    return worker.model_copy(update={"inbox": inbox})


def drop_files(s3, bucket: str, files) -> None:
    drop(s3, bucket, "inbox/retailer5/", files)


def ingest_and_load(engine, s3, worker, day: dt.date = DAY, *, scan_first: bool = True):
    """What beat's scan, the run's ingest step and its transform step do, in process."""
    from services.transformation.load import load_partition

    if scan_first:
        scan(s3, worker.s3_bucket, worker.inbox, engine=engine, start_runs=False)
    run_id = make_run(engine, day, [R5])
    ref = ops.StepRef(run_id, "ingest", R5, day)
    result = run_step(ref, partial(ingest_file, s3=s3, settings=worker), send=False)
    if result.status != "succeeded":
        with engine.begin() as conn:
            conn.execute(text("update ops.run set status = 'failed' where run_id = :r"),
                         {"r": run_id})
        return result, None
    loaded = load_partition(run_id, R5, day, s3=s3, send=False)
    assert loaded.status == "succeeded", loaded.error
    with engine.begin() as conn:
        conn.execute(text("update ops.run set status = 'succeeded' where run_id = :r"),
                     {"r": run_id})
    return result, loaded


def facts(engine) -> dict[dt.date, tuple[int, int, int, Decimal]]:
    with engine.connect() as conn:
        rows = conn.execute(text("""
            select f.order_date, count(distinct f.order_id), count(*), sum(f.quantity),
                   sum(f.line_total)
            from warehouse.fact_sales f join warehouse.dim_retailer r using (retailer_key)
            where r.retailer_id = 'retailer5' group by f.order_date""")).all()
    return {r[0]: (r[1], r[2], int(r[3]), r[4]) for r in rows}


def marts(engine) -> dict[dt.date, tuple[int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "select order_date, orders_created, order_lines, units_sold from marts.daily_orders "
            "where retailer_id = 'retailer5'")).all()
    return {r[0]: (r[1], r[2], int(r[3])) for r in rows if r[2]}


def sales_file_statuses(engine) -> list[tuple[str, int]]:
    """How many sales files ops.inbox_file holds in each status."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "select status, count(*) from ops.inbox_file where file_type = 'sales' "
            "group by 1 order by 1")).all()]


def inbox_keys(s3, bucket: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="inbox/").get("Contents", [])
    return {o["Key"] for o in listed}


def sales(files) -> bytes:
    return next(f.body for f in files if f.name.startswith("sales") and
                f.name.endswith(".csv"))


QUIRKS = {
    "header-reordered-bom-crlf-blank-tail": Quirks(header=True, reorder=True, bom=True,
                                                   crlf=True, blank_tail=2),
    "no-header-crlf": Quirks(header=False, crlf=True),
    "no-header-bom-lf": Quirks(header=False, bom=True, blank_tail=1),
}


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_each_quirk_loads_every_line_and_the_file_moves_to_history(engine, s3, env, quirk):
    bucket = env.s3_bucket
    q = QUIRKS[quirk]
    files = day_files(GEN, DAY, quirks={"sales": q, "stores": q, "products": q})
    body = sales(files)
    assert b'"' in body                        # quoted fields with commas and quotes
    drop_files(s3, bucket, files)
    result, _ = ingest_and_load(engine, s3, env)
    assert result.status == "succeeded", result.error
    expected = daily(accepted_lines(body, DAY))
    assert facts(engine) == expected
    assert marts(engine) == {d: v[:3] for d, v in expected.items()}
    # bronze keeps the exact bytes; the inbox is empty; history has the files
    manifest = result.counts
    assert manifest["order_lines"]["received"] == len(
        [1 for _ in body.decode("utf-8-sig").splitlines() if _.strip()]) - q.header
    assert inbox_keys(s3, bucket) == set()
    hist = f"history/retailer5/sales/year=2024/month=03/day=12/sales_{DAY:%Y%m%d}.csv"
    assert s3.get_object(Bucket=bucket, Key=hist)["Body"].read() == body
    with engine.connect() as conn:
        bronze = conn.execute(text(
            "select o->>'key' from ops.manifest m, jsonb_array_elements(m.manifest->'objects') o "
            "where m.retailer_id = 'retailer5' and o->>'entity' = 'sales_file' "
            "and o->>'key' like '%.csv'")).scalar_one()
        stores = conn.execute(text("select count(*) from warehouse.dim_store "
                                   "where retailer_id = 'retailer5' and not is_inferred")).scalar()
    assert s3.get_object(Bucket=bucket, Key=bronze)["Body"].read() == body
    assert stores == GEN.stores


def test_malformed_lines_are_rejected_with_their_line_numbers_and_the_rest_loads(
        engine, s3, env):
    files = day_files(GEN, DAY, faults=Faults(malformed_lines=2),
                      quirks={"sales": Quirks(header=True)})
    body = sales(files)
    drop_files(s3, env.s3_bucket, files)
    result, _ = ingest_and_load(engine, s3, env)
    assert result.status == "succeeded", result.error
    assert facts(engine) == daily(accepted_lines(body, DAY))
    bad = [i + 1 for i, line in enumerate(body.decode().splitlines()) if "25:61" in line]
    with engine.connect() as conn:
        rejected = conn.execute(text(
            "select (payload->>'line')::int, reason, detail from ops.rejected_record "
            "where retailer_id = 'retailer5' and payload ? 'line' order by 1")).all()
    assert [(r[0], r[1]) for r in rejected if r[0] in bad] == [(n, "bad_timestamp") for n in bad]
    assert all(f"line {r[0]}:" in r[2] for r in rejected)


def test_a_bad_name_stays_in_the_inbox_with_an_alert(engine, s3, env, receiver):
    files = day_files(GEN, DAY, faults=Faults(bad_name=True))
    drop_files(s3, env.s3_bucket, files)
    report = scan(s3, env.s3_bucket, env.inbox, engine=engine, start_runs=False)
    bad = f"inbox/retailer5/sales {DAY:%d.%m.%Y}.csv"
    assert report.errors == [bad]
    assert bad in inbox_keys(s3, env.s3_bucket)
    assert [(b["key"], b["reason"]) for b in receiver.bodies] == [(bad, "bad_name")]
    with engine.connect() as conn:
        row = conn.execute(text("select status, reason, alerted_at is not null "
                                "from ops.inbox_file where object_key = :k"), {"k": bad}).one()
    assert tuple(row) == ("error", "bad_name", True)
    # GET /health (and the quality page, which shows its problems) lists it
    from services.quality.health import inbox_errors
    with engine.connect() as conn:
        assert [(e["key"], e["reason"], e["alerted"]) for e in inbox_errors(conn)] == [
            (bad, "bad_name", True)]
    # seen once: a second scan neither records nor alerts again
    scan(s3, env.s3_bucket, env.inbox, engine=engine, start_runs=False)
    assert len(receiver.bodies) == 1
    # the date has no sales file: its ingest step fails (the deadline check reports it)
    result, _ = ingest_and_load(engine, s3, env, scan_first=False)
    assert result.status == "failed" and "no sales file" in result.error


def test_a_truncated_file_stays_in_the_inbox_and_the_step_fails(engine, s3, env, receiver):
    files = day_files(GEN, DAY, faults=Faults(truncate=True))
    drop_files(s3, env.s3_bucket, files)
    result, _ = ingest_and_load(engine, s3, env)
    assert result.status == "failed" and "truncated" in result.error
    key = f"inbox/retailer5/sales_{DAY:%Y%m%d}.csv"
    assert key in inbox_keys(s3, env.s3_bucket)
    assert [(b["key"], b["reason"]) for b in receiver.bodies] == [(key, "truncated")]
    assert facts(engine) == {}


def test_a_file_csv_cannot_read_is_an_error_not_a_retry(engine, s3, env, receiver):
    files = day_files(GEN, DAY, quirks={"sales": Quirks(header=False)})
    # a field past the csv module's limit (131,072 characters)
    files = [f if f.name != f"sales_{DAY:%Y%m%d}.csv" else
             type(f)(f.name, f.body.replace(b"\n", b"x" * 200_000 + b"\n", 1)) for f in files]
    drop_files(s3, env.s3_bucket, files)
    result, _ = ingest_and_load(engine, s3, env)
    assert result.status == "failed" and "unreadable_csv" in result.error
    assert [b["reason"] for b in receiver.bodies] == ["unreadable_csv"]


def test_a_control_total_that_does_not_match_is_an_error(engine, s3, env, receiver):
    files = day_files(GEN, DAY)
    files = [f if not f.name.endswith(".ctl") else
             type(f)(f.name, f.body.replace(b"rows=", b"rows=1")) for f in files]
    drop_files(s3, env.s3_bucket, files)
    result, _ = ingest_and_load(engine, s3, env)
    assert result.status == "failed" and "control_total_mismatch" in result.error
    assert [b["reason"] for b in receiver.bodies] == ["control_total_mismatch"]


def test_the_same_file_twice_loads_once(engine, s3, env):
    files = day_files(GEN, DAY)
    drop_files(s3, env.s3_bucket, files)
    first, _ = ingest_and_load(engine, s3, env)
    assert first.status == "succeeded"
    before = facts(engine)
    drop_files(s3, env.s3_bucket, files)
    report = scan(s3, env.s3_bucket, env.inbox, engine=engine, start_runs=False)
    assert sorted(report.duplicates) == sorted(
        f"inbox/retailer5/{f.name}" for f in files if f.name.endswith(".csv"))
    assert report.claimed == []
    assert sales_file_statuses(engine) == [("duplicate", 1), ("loaded", 1)]
    assert facts(engine) == before
    assert inbox_keys(s3, env.s3_bucket) == set()


def test_a_corrected_file_restates_its_batch_exactly(engine, s3, env):
    original = day_files(GEN, DAY)
    drop_files(s3, env.s3_bucket, original)
    ingest_and_load(engine, s3, env)
    assert facts(engine) == daily(accepted_lines(sales(original), DAY))

    fixed = day_files(GEN, DAY, faults=Faults(correction=True))
    drop_files(s3, env.s3_bucket, fixed)
    result, loaded = ingest_and_load(engine, s3, env)
    assert result.status == "succeeded", result.error
    expected = daily(accepted_lines(sales(fixed), DAY))
    assert min(expected) == DAY - dt.timedelta(days=2)        # one order was back-dated
    assert facts(engine) == expected
    assert marts(engine) == {d: v[:3] for d, v in expected.items()}
    with engine.connect() as conn:
        audit = conn.execute(text(
            "select lines_before, lines_after, amount_before, amount_after, dates_touched, "
            "requested_by from ops.restatement where retailer_id = 'retailer5'")).one()
    old = daily(accepted_lines(sales(original), DAY))
    assert audit[0] == sum(v[1] for v in old.values())
    assert audit[1] == sum(v[1] for v in expected.values())
    assert audit[2] == sum(v[3] for v in old.values())
    assert audit[3] == sum(v[3] for v in expected.values())
    assert set(audit[4]) == {DAY, DAY - dt.timedelta(days=2)}
    assert loaded.counts["batch"]["restated"] is True


def test_several_scans_at_once_claim_each_file_once(engine, s3, env):
    from concurrent.futures import ThreadPoolExecutor

    drop_files(s3, env.s3_bucket, day_files(GEN, DAY))
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(
            lambda _: scan(s3, env.s3_bucket, env.inbox, engine=engine, start_runs=False),
            range(4)))
    claimed = [k for r in reports for k in r.claimed]
    assert sorted(claimed) == sorted(f"inbox/retailer5/{n}_{DAY:%Y%m%d}.csv"
                                     for n in ("sales", "stores", "products"))
    with engine.connect() as conn:
        rows = conn.execute(text("select status, count(*) from ops.inbox_file group by 1")).all()
    assert [tuple(r) for r in rows] == [("claimed", 3)]


def test_a_good_file_uploaded_after_a_bad_one_loads_and_resolves_the_error(engine, s3, env):
    from services.quality.health import inbox_errors

    drop_files(s3, env.s3_bucket, day_files(GEN, DAY, faults=Faults(truncate=True)))
    failed, _ = ingest_and_load(engine, s3, env)
    assert failed.status == "failed"
    with engine.connect() as conn:
        assert [e["reason"] for e in inbox_errors(conn)] == ["truncated"]
    good = day_files(GEN, DAY)
    drop_files(s3, env.s3_bucket, good)
    result, _ = ingest_and_load(engine, s3, env)
    assert result.status == "succeeded", result.error
    assert facts(engine) == daily(accepted_lines(sales(good), DAY))
    assert inbox_keys(s3, env.s3_bucket) == set()
    with engine.connect() as conn:
        assert inbox_errors(conn) == []


def test_an_ingest_step_waits_for_a_scan_under_way_and_finds_its_file(engine, s3, env):
    """POST /runs while beat's scan holds the inbox: the step waits for it, then loads."""
    from services.ingestion.files.inbox import SCAN_LOCK

    drop_files(s3, env.s3_bucket, day_files(GEN, DAY))
    with engine.connect() as held:
        held.execute(text("select pg_advisory_lock(hashtext(:n))"), {"n": SCAN_LOCK})
        release = threading.Timer(1.0, lambda: (held.execute(
            text("select pg_advisory_unlock(hashtext(:n))"), {"n": SCAN_LOCK}), held.commit()))
        release.start()
        result, _ = ingest_and_load(engine, s3, env, scan_first=False)
        release.join()
    assert result.status == "succeeded", result.error


def test_a_claimed_file_starts_its_own_run_only_after_the_delay(engine, s3, env):
    """A run asked for the date right after the drop takes the file; the inbox's own run
    waits INBOX_RUN_DELAY_SECONDS so that it does not race it."""
    from services.ingestion.files.inbox import start_claimed_runs

    drop_files(s3, env.s3_bucket, day_files(GEN, DAY))
    scan(s3, env.s3_bucket, env.inbox, engine=engine, start_runs=False)
    assert start_claimed_runs(engine, delay_seconds=3600) == []
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from ops.run")).scalar_one() == 0
    [run_id] = start_claimed_runs(engine, delay_seconds=0)
    with engine.connect() as conn:
        run = conn.execute(text("select retailers, requested_by from ops.run "
                                "where run_id = :r"), {"r": run_id}).one()
    assert (list(run.retailers), run.requested_by) == (["retailer5"], "inbox")


def test_the_same_file_again_after_the_lake_lost_its_copy_loads_again(engine, s3, env):
    """The local stack's S3 server keeps nothing across restarts while PostgreSQL keeps
    ops.inbox_file: a re-drop of loaded bytes whose history copy is gone is loaded again,
    not a no-op that leaves the date's run with nothing to read."""
    files = day_files(GEN, DAY)
    drop_files(s3, env.s3_bucket, files)
    first, _ = ingest_and_load(engine, s3, env)
    assert first.status == "succeeded"
    before = facts(engine)
    history = s3.list_objects_v2(Bucket=env.s3_bucket, Prefix="history/").get("Contents", [])
    assert history
    for obj in history:
        s3.delete_object(Bucket=env.s3_bucket, Key=obj["Key"])
    drop_files(s3, env.s3_bucket, files)
    again, _ = ingest_and_load(engine, s3, env)
    assert again.status == "succeeded", again.error
    assert sales_file_statuses(engine) == [("loaded", 1), ("superseded", 1)]
    assert facts(engine) == before
