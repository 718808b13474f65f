"""Landing real retailers' days (partition.py, step.py) against the three retailer servers
(`retailer_apps`), the S3-compatible server and PostgreSQL. Through a Celery worker:
test_tasks.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections import Counter
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import text

from services.ingestion.connectors import make_client
from services.ingestion.partition import land_partition
from shared import ops
from shared.canonical import ENTITIES
from tests.fixtures.ingestion import (
    control_lines_in_objects,
    ingest_step,
    make_run,
    manifest_records,
    read_object,
)

RETAILERS = ("retailer1", "retailer2", "retailer3")
DAY = dt.date(2024, 1, 15)


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
    line_count, amount = control_lines_in_objects(s3, bucket, m)
    assert line_count == control["line_count"] > 0
    assert amount == Decimal(control["amount"])
    assert m["reconciliation"]["line_count_matches"] and m["reconciliation"]["amount_matches"]
    # every record received is normalized or rejected, and the objects hold them all
    rejected = Counter(r["entity"] for r in manifest_records(s3, bucket, m, "rejected"))
    for entity, c in m["counts"].items():
        assert c["received"] == c["normalized"] + c["rejected"], entity
        assert len(manifest_records(s3, bucket, m, "silver", entity)) == c["normalized"], entity
        assert rejected.get(entity, 0) == c["rejected"], entity
    assert m["counts"]["order_lines"]["normalized"] > 0
    bronze = sum(o["records"] for o in m["objects"] if o["kind"] == "bronze")
    assert bronze == sum(len(manifest_records(s3, bucket, m, "bronze", r)) for r in m["pages"])
    assert sum(m["pages"].values()) > len(m["pages"])  # several pages per resource
    # sizes and checksums are of the stored bytes
    for o in m["objects"]:
        records, body = read_object(s3, bucket, o)
        assert (o["bytes"], o["sha256"], o["records"]) == \
            (len(body), hashlib.sha256(body).hexdigest(), len(records))
    # canonical records have exactly the canonical fields
    for entity in ENTITIES:
        for record in manifest_records(s3, bucket, m, "silver", entity)[:50]:
            assert tuple(record) == ENTITIES[entity]


@pytest.mark.parametrize("retailer_id", RETAILERS)
def test_a_negative_quantity_lands_in_the_rejected_objects_with_its_reason(
        retailer_id, retailer_apps, clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    landed, _ = _land(retailer_id, s3, settings)
    rejected = manifest_records(s3, bucket, landed.manifest, "rejected")
    negative = [r for r in rejected if r["reason"] == "negative_quantity"]
    assert negative, "the seeded day has negative quantities at every retailer"
    r = negative[0]
    assert r["entity"] == "order_lines" and r["detail"].endswith(tuple("-123456789"))
    assert int(r["record"][r["field"]]) < 0  # the record as received
    assert r["amount"] is not None and r["currency"] in ("USD", "EUR")
    assert landed.manifest["rejected_reasons"]["negative_quantity"] == len(negative)
    silver_keys = {f"{x['order_id']}:{x['line_number']}"
                   for x in manifest_records(s3, bucket, landed.manifest, "silver", "order_lines")}
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
                    # (older than the new 1 s lifetime whatever the wait for the change took)
                    time.sleep(1.1)
                yield page

        client.iter_day = iter_day_expiring_the_token  # type: ignore[method-assign]
        landed = land_partition(client, s3, bucket, run_id=str(uuid.uuid4()), day=DAY,
                                settings=conf)
    m = landed.manifest
    # the token in use was refused once, and a new one carried the run to its end
    assert m["http"]["reauthentications"] == client.reauthentications >= 1
    assert client.token_requests >= 2
    assert m["reconciliation"]["line_count_matches"] and m["reconciliation"]["amount_matches"]
    line_count, _ = control_lines_in_objects(s3, bucket, m)
    assert line_count == m["control_totals"]["line_count"]


def test_rerunning_a_date_writes_a_new_prefix_and_never_rewrites_earlier_bronze(
        retailer_apps, clean_bucket, clean_warehouse, settings):
    s3, bucket, engine = clean_bucket, settings.s3_bucket, clean_warehouse
    first = make_run(engine, DAY, ["retailer1"])
    ref = ops.StepRef(first, "ingest", "retailer1", DAY)
    assert ingest_step(ref, task_id="a", settings=settings, engine=engine,
                       s3=s3).status == "succeeded"

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
    assert ingest_step(ref2, task_id="b", settings=settings, engine=engine,
                       s3=s3).status == "succeeded"
    assert bronze_of(first) == before  # untouched: same bytes, same time
    after = bronze_of(second)
    assert {k.replace(second, first) for k in after} == set(before)
    with engine.connect() as conn:
        manifests = conn.execute(text(
            "select run_id::text, manifest_key, manifest->'counts'->'order_lines' "
            "from ops.manifest order by created_at")).all()
    assert [m[0] for m in manifests] == [first, second]
    assert manifests[0][2] == manifests[1][2]  # the same day, the same answer
