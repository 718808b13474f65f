"""Objects written as they grow (landing.py), against the real S3-compatible server."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

from services.ingestion.landing import (
    JsonLinesWriter,
    PartitionWriter,
    SilverWriter,
    delete_run_objects,
)
from services.ingestion.normalize import Batch
from shared import silver
from tests.factories import generate_day
from tests.fixtures.ingestion import read_lines, read_silver

DAY = dt.date(2024, 1, 15)


def _ingestion(settings, **overrides):
    s = settings.ingestion.model_copy()
    for name, value in overrides.items():
        setattr(s, name, value)
    return s


def test_a_large_object_streams_in_multipart_chunks(clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    conf = _ingestion(settings, upload_chunk_bytes=5 * 1024 * 1024)
    writer = JsonLinesWriter(s3, bucket, "bronze", "orders", lambda p: f"t/part-{p:05d}.jsonl.gz",
                             conf)
    # random text does not compress: ~12 MB of it needs three chunks
    records = [{"n": i, "blob": os.urandom(3000).hex()} for i in range(2000)]
    for start in range(0, len(records), 500):
        writer.write(records[start:start + 500])
    assert writer._stream._upload_id is not None  # multipart began before the end
    [landed] = writer.close()
    lines, body = read_lines(s3, bucket, landed.key)
    assert lines == records
    assert landed.records == 2000 and landed.bytes == len(body)
    assert landed.sha256 == hashlib.sha256(body).hexdigest()


def test_an_object_past_part_max_bytes_continues_in_the_next_part(clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    conf = _ingestion(settings, part_max_bytes=1024)
    writer = JsonLinesWriter(s3, bucket, "bronze", "order-lines",
                             lambda p: f"t/part-{p:05d}.jsonl.gz", conf)
    batches = [[{"page": page, "i": i, "x": os.urandom(8).hex()} for i in range(40)]
               for page in range(5)]
    for batch in batches:
        writer.write(batch)
    landed = writer.close()
    assert [o.key for o in landed] == [f"t/part-{p:05d}.jsonl.gz" for p in range(len(landed))]
    assert len(landed) >= 3
    read_back = [r for o in landed for r in read_lines(s3, bucket, o.key)[0]]
    assert read_back == [r for b in batches for r in b]
    assert sum(o.records for o in landed) == 200


def test_silver_is_typed_parquet_in_row_groups_and_bounded_parts(clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    conf = _ingestion(settings, part_max_bytes=4096, silver_row_group_rows=100)
    writer = SilverWriter(s3, bucket, "silver", "order_lines",
                          lambda p: f"t/part-{p:05d}.parquet", conf)
    lines = generate_day("retailer1", DAY, orders=300).order_lines
    pages = [lines[start:start + 37] for start in range(0, len(lines), 37)]
    for page in pages:
        writer.write_batch(silver.page_batch("order_lines", page))
    landed = writer.close()
    assert len(landed) >= 2 and sum(o.records for o in landed) == len(lines)
    read_back = []
    for o in landed:
        records, body = read_silver(s3, bucket, o.key, "order_lines")
        assert (o.records, o.bytes, o.sha256) == \
            (len(records), len(body), hashlib.sha256(body).hexdigest())
        parquet = silver.open_object(body, "order_lines")
        # a row group is written once 100 rows wait: one per 100-136 rows, not one per page
        assert all(parquet.metadata.row_group(i).num_rows < 100 + 37
                   for i in range(parquet.num_row_groups))
        assert parquet.num_row_groups < len(records) / 37
        read_back += records
    # typed on the way in, the same canonical values on the way out
    assert read_back == lines
    head = s3.head_object(Bucket=bucket, Key=landed[0].key)
    assert head["ContentType"] == silver.CONTENT_TYPE and "ContentEncoding" not in head


def test_partition_writer_lays_out_objects_under_the_run(clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    writer = PartitionWriter(s3, bucket, "retailer1", DAY, "run-a", settings.ingestion)
    writer.bronze("order-lines", [{"order_id": 1}])
    writer.end_resource("order-lines")
    writer.normalized(Batch({"order_lines": [{"order_id": "1"}]},
                            [{"entity": "order_lines", "reason": "negative_quantity"}]))
    writer.normalized(Batch({"orders": []}, []))  # nothing: no object
    keys = [o.key for o in writer.close()]
    assert keys == [
        "bronze/retailer=retailer1/entity=order-lines/date=2024-01-15/run=run-a/part-00000.jsonl.gz",
        "silver/retailer=retailer1/entity=order_lines/date=2024-01-15/run=run-a/part-00000.parquet",
        "rejected/retailer=retailer1/date=2024-01-15/run=run-a/part-00000.jsonl.gz",
    ]


def test_leftovers_are_removed_only_from_the_same_run(clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    for run in ("old-run", "this-run"):
        writer = PartitionWriter(s3, bucket, "retailer1", DAY, run, settings.ingestion)
        writer.bronze("products", [{"sku": "a"}])
        writer.close()
    assert delete_run_objects(s3, bucket, "retailer1", DAY, "this-run", ["products"], []) == 1
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["bronze/retailer=retailer1/entity=products/date=2024-01-15/run=old-run/"
                    "part-00000.jsonl.gz"]


class _FailingS3:
    """Delegates to a real client; `put_object` of a bronze key fails."""

    def __init__(self, s3) -> None:
        self._s3 = s3

    def put_object(self, **kwargs):
        if kwargs["Key"].startswith("bronze/"):
            raise ConnectionError("S3 went away")
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def test_a_failed_write_in_the_background_is_raised_and_nothing_is_left(clean_bucket,
                                                                         settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    writer = PartitionWriter(_FailingS3(s3), bucket, "retailer1", DAY, "run-f",
                             settings.ingestion)
    writer.bronze("stores", [{"store_id": 1}])
    writer.end_resource("stores")  # the bronze object is finished (and fails) in the sink
    raised = None
    try:
        for _ in range(50):  # the error surfaces at a later call at the latest
            writer.normalized(Batch({"stores": [{"store_id": "1"}]}, []))
        writer.close()
    except ConnectionError as exc:
        raised = exc
    finally:
        writer.abort()
    assert raised is not None and "S3 went away" in str(raised)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_writes_keep_their_order_through_the_background_thread(clean_bucket, settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    writer = PartitionWriter(s3, bucket, "retailer1", DAY, "run-o", settings.ingestion)
    pages = [[{"order_id": f"{page}-{i}"} for i in range(100)] for page in range(30)]
    for page in pages:
        writer.normalized(Batch({"orders": page}, []))
    [landed] = writer.close()
    records, _ = read_silver(s3, bucket, landed.key, "orders")
    assert [r["order_id"] for r in records] == [r["order_id"] for page in pages for r in page]
    assert landed.records == 3000
