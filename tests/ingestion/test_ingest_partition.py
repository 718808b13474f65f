"""Landing real retailers' days (partition.py, step.py, tasks.py): against the three
retailer servers (`retailer_apps`), the S3-compatible server, PostgreSQL and, where the test
is about the task, a real Celery worker."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import uuid
from collections import Counter
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import text

from services.ingestion.connectors import make_client
from services.ingestion.partition import land_partition
from services.ingestion.step import Outcome, ingest_step
from shared import ops
from shared.canonical import ENTITIES
from tests.fixtures.core import wait_for
from tests.fixtures.ingestion import make_run

RETAILERS = ("retailer1", "retailer2", "retailer3")
DAY = dt.date(2024, 1, 15)


def _read(s3, bucket: str, key: str) -> tuple[list[dict], bytes]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return [orjson.loads(line) for line in gzip.decompress(body).splitlines()], body


def _objects(s3, bucket: str, manifest: dict, kind: str, entity: str | None = None) -> list:
    return [r for o in manifest["objects"]
            if o["kind"] == kind and (entity is None or o["entity"] == entity)
            for r in _read(s3, bucket, o["key"])[0]]


def _control_lines_from_objects(s3, bucket: str, manifest: dict) -> tuple[int, Decimal]:
    """What the stored objects say about the lines of orders created on the day: each line
    once (silver or rejected), and their totals. Computed from S3, not from the manifest."""
    day = manifest["run_date"]
    seen: dict[str, Decimal] = {}
    for line in _objects(s3, bucket, manifest, "silver", "order_lines"):
        if line["created_at"][:10] == day:
            seen.setdefault(f"{line['order_id']}:{line['line_number']}",
                            Decimal(line["line_total"]))
    rejected_lines = [r for r in _objects(s3, bucket, manifest, "rejected")
                      if r["entity"] == "order_lines"]
    created = {o["order_id"]: o["created_at"][:10]
               for o in _objects(s3, bucket, manifest, "silver", "orders")}
    for r in rejected_lines:
        order_id = r["record_key"].split(":")[0]
        if created.get(order_id, day) == day:
            seen.setdefault(r["record_key"], Decimal(r["amount"]))
    return len(seen), sum(seen.values(), Decimal("0"))


def _land(retailer_id: str, s3, settings, day: dt.date = DAY, run_id: str | None = None,
          **ingestion):
    conf = settings.ingestion.model_copy(update=ingestion)
    s = settings.model_copy(update={"ingestion": conf})
    with make_client(retailer_id, s) as client:
        landed = land_partition(client, s3, settings.s3_bucket,
                                run_id=run_id or str(uuid.uuid4()), day=day, settings=conf)
        return landed, client


@pytest.mark.parametrize("retailer_id", RETAILERS)
def test_a_landed_day_reconciles_with_the_retailers_control_totals(
        retailer_id, retailer_apps, clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    landed, _ = _land(retailer_id, s3, settings, page_size=40)
    m = landed.manifest
    assert landed.manifest_key == (f"manifests/retailer={retailer_id}/date=2024-01-15/"
                                   f"run={m['run_id']}.json")
    assert orjson.loads(s3.get_object(Bucket=bucket, Key=landed.manifest_key)["Body"]
                        .read()) == m
    control = m["control_totals"]
    # the stored objects, read back, hold exactly the retailer's lines of the day
    line_count, amount = _control_lines_from_objects(s3, bucket, m)
    assert line_count == control["line_count"] > 0
    assert amount == Decimal(control["amount"])
    assert m["reconciliation"]["line_count_matches"] and m["reconciliation"]["amount_matches"]
    # every record received is normalized or rejected, and the objects hold them all
    rejected = Counter(r["entity"] for r in _objects(s3, bucket, m, "rejected"))
    for entity, c in m["counts"].items():
        assert c["received"] == c["normalized"] + c["rejected"], entity
        assert len(_objects(s3, bucket, m, "silver", entity)) == c["normalized"], entity
        assert rejected.get(entity, 0) == c["rejected"], entity
    assert m["counts"]["order_lines"]["normalized"] > 0
    bronze = sum(o["records"] for o in m["objects"] if o["kind"] == "bronze")
    assert bronze == sum(len(_objects(s3, bucket, m, "bronze", r)) for r in m["pages"])
    assert sum(m["pages"].values()) > len(m["pages"])  # several pages per resource
    # sizes and checksums are of the stored bytes
    for o in m["objects"]:
        records, body = _read(s3, bucket, o["key"])
        assert (o["bytes"], o["sha256"], o["records"]) == \
            (len(body), hashlib.sha256(body).hexdigest(), len(records))
    # canonical records have exactly the canonical fields
    for entity in ENTITIES:
        for record in _objects(s3, bucket, m, "silver", entity)[:50]:
            assert tuple(record) == ENTITIES[entity]


@pytest.mark.parametrize("retailer_id", RETAILERS)
def test_a_negative_quantity_lands_in_the_rejected_objects_with_its_reason(
        retailer_id, retailer_apps, clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    landed, _ = _land(retailer_id, s3, settings)
    rejected = _objects(s3, bucket, landed.manifest, "rejected")
    negative = [r for r in rejected if r["reason"] == "negative_quantity"]
    assert negative, "the seeded day has negative quantities at every retailer"
    r = negative[0]
    assert r["entity"] == "order_lines" and r["detail"].endswith(tuple("-123456789"))
    assert int(r["record"][r["field"]]) < 0  # the record as received
    assert r["amount"] is not None and r["currency"] in ("USD", "EUR")
    assert landed.manifest["rejected_reasons"]["negative_quantity"] == len(negative)
    silver_keys = {f"{x['order_id']}:{x['line_number']}"
                   for x in _objects(s3, bucket, landed.manifest, "silver", "order_lines")}
    assert r["record_key"] not in silver_keys


def test_a_token_expiring_mid_run_is_survived(retailer_chaos, clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    conf = settings.ingestion.model_copy(update={"page_size": 20, "prefetch_pages": 0})
    s = settings.model_copy(update={"ingestion": conf})
    with make_client("retailer3", s) as client:
        pages = client.iter_day

        def iter_day_expiring_the_token(day):
            for n, page in enumerate(pages(day)):
                if n == 3:
                    # tokens already handed out lapse: the one in use is now too old
                    retailer_chaos.set_chaos("retailer3", token_ttl=1)
                yield page

        client.iter_day = iter_day_expiring_the_token  # type: ignore[method-assign]
        landed = land_partition(client, s3, bucket, run_id=str(uuid.uuid4()), day=DAY,
                                settings=conf)
    m = landed.manifest
    # the token in use was refused once, and a new one carried the run to its end
    assert m["http"]["reauthentications"] == client.reauthentications >= 1
    assert client.token_requests >= 2
    assert m["reconciliation"]["line_count_matches"] and m["reconciliation"]["amount_matches"]
    assert _control_lines_from_objects(s3, bucket, m)[0] == m["control_totals"]["line_count"]


def test_rerunning_a_date_writes_a_new_prefix_and_never_rewrites_earlier_bronze(
        retailer_apps, clean_bucket, clean_warehouse, settings):
    s3, bucket, engine = clean_bucket, settings.s3_bucket, clean_warehouse
    first = make_run(engine, DAY, ["retailer1"])
    ref = ops.StepRef(first, "ingest", "retailer1", DAY)
    assert ingest_step(ref, task_id="a", settings=settings, engine=engine, s3=s3) is \
        Outcome.SUCCEEDED

    def bronze_of(run_id: str) -> dict[str, tuple[str, object]]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="bronze/retailer=retailer1/")
        return {o["Key"]: (o["ETag"], o["LastModified"]) for o in listed["Contents"]
                if f"/run={run_id}/" in o["Key"]}

    before = bronze_of(first)
    assert len(before) == 4  # stores, products, customers, order-lines
    with engine.begin() as conn:
        ops.finish_run(conn, first, "succeeded")
    second = make_run(engine, DAY, ["retailer1"])
    ref2 = ops.StepRef(second, "ingest", "retailer1", DAY)
    assert ingest_step(ref2, task_id="b", settings=settings, engine=engine, s3=s3) is \
        Outcome.SUCCEEDED
    assert bronze_of(first) == before  # untouched: same bytes, same time
    after = bronze_of(second)
    assert {k.replace(second, first) for k in after} == set(before)
    with engine.connect() as conn:
        manifests = conn.execute(text(
            "select run_id::text, manifest_key, manifest->'counts'->'order_lines' "
            "from ops.manifest order by created_at")).all()
    assert [m[0] for m in manifests] == [first, second]
    assert manifests[0][2] == manifests[1][2]  # the same day, the same answer


@pytest.fixture
def transformation_queue(redis_db):
    redis_db.delete("transformation")
    yield lambda: redis_db.llen("transformation")
    redis_db.delete("transformation")


def test_the_task_lands_every_retailer_under_chaos_and_hands_over(
        retailer_chaos, clean_bucket, ingestion_api, auth_headers, start_worker,
        transformation_queue, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    for rid in RETAILERS:  # 20% of data requests fail: 10% 500s, 10% 429s
        retailer_chaos.set_chaos(rid, wait=rid == RETAILERS[-1], error_rate=0.1,
                                 throttle_rate=0.1, retry_after=1)
    start_worker("services.ingestion.tasks", ["ingestion"], concurrency=3,
                 env={"INGESTION_PAGE_SIZE": "25", "INGESTION_HEARTBEAT_SECONDS": "0.2",
                      "INGESTION_RETRY_BASE_DELAY_SECONDS": "0.05"})
    resp = ingestion_api.post("/runs", json={"date": "2024-01-16"}, headers=auth_headers)
    assert resp.status_code == 202
    status_url = resp.json()["status_url"]

    def ingested():
        run = ingestion_api.get(status_url).json()
        steps = [run["retailers"][r]["ingest"] for r in RETAILERS]
        assert not [s for s in steps if s["status"] in ("failed", "dead")], steps
        return run if all(s["status"] == "succeeded" for s in steps) else None

    run = wait_for(ingested, timeout=120, message="three ingest steps to succeed")
    retries = 0
    for rid in RETAILERS:
        step = run["retailers"][rid]["ingest"]
        assert run["retailers"][rid]["transform"]["status"] == "queued"
        assert step["counts"]["pages"] > 3 and step["counts"]["bytes"] > 0
        [m] = [o for o in _manifests(s3, bucket, run["run_id"]) if o["retailer_id"] == rid]
        retries += m["http"]["retries"]
        # the silver objects hold every line the retailer counts, chaos or not
        line_count, amount = _control_lines_from_objects(s3, bucket, m)
        assert line_count == m["control_totals"]["line_count"]
        assert amount == Decimal(m["control_totals"]["amount"])
        assert step["counts"]["order_lines"] == m["counts"]["order_lines"]
    assert retries > 0  # the chaos was real
    assert run["counts"]["order_lines"]["received"] > 0
    assert transformation_queue() == 3


def _manifests(s3, bucket: str, run_id: str) -> list[dict]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="manifests/")
    return [orjson.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
            for o in listed.get("Contents", []) if o["Key"].endswith(f"run={run_id}.json")]
