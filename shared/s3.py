"""S3 access: a client factory for real S3 or a local S3-compatible server, and the layout."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.settings import S3Settings, current


def make_s3_client(settings: S3Settings | None = None, *, timeout_seconds: float | None = None,
                   max_attempts: int = 5):
    """Create a boto3 S3 client; an endpoint URL points it at a local server.

    Args:
        settings: the S3 part of the process's settings (default: `current(S3Settings)`).
        timeout_seconds: connect and read timeout (botocore's 60 s when None); a health
            check wants a short one.
        max_attempts: attempts per call, retries in standard mode.
    Returns:
        A botocore S3 client with retries in standard mode.
    """
    s = settings or current(S3Settings)
    timeouts = {} if timeout_seconds is None else {"connect_timeout": timeout_seconds,
                                                   "read_timeout": timeout_seconds}
    return boto3.client(
        "s3",
        endpoint_url=s.s3_endpoint_url or None,
        region_name=s.s3_region,
        aws_access_key_id=s.s3_access_key_id,
        aws_secret_access_key=s.s3_secret_access_key.get_secret_value(),
        config=Config(retries={"max_attempts": max_attempts, "mode": "standard"},
                      max_pool_connections=20, **timeouts),
    )


@lru_cache
def get_s3():
    """The process-wide S3 client, with the bucket created if it is missing."""
    client = make_s3_client()
    ensure_bucket(client, current(S3Settings).s3_bucket)
    return client


def ensure_bucket(client, bucket: str) -> None:
    """Create `bucket` unless it exists already (safe to call from many processes)."""
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        try:
            client.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou",
                                                     "BucketAlreadyExists"):
                raise


# How S3 servers say an object is not there: GET and COPY answer NoSuchKey; HEAD has no
# body, so its code is the status, 404 (NotFound on some servers).
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def is_missing_object(exc: BaseException) -> bool:
    """Whether a client error says the object (key) does not exist."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code") in MISSING_OBJECT_CODES


# --- the lake layout (docs/architecture.md, "S3 layout") --------------------------------

def _d(day: dt.date | str) -> str:
    return day.isoformat() if isinstance(day, dt.date) else str(day)


def object_prefix(kind: str, retailer_id: str, day: dt.date | str, run_id: str,
                  entity: str | None = None) -> str:
    """The folder of one run's objects: `bronze|silver` need an entity, `rejected` has none."""
    if kind in ("bronze", "silver"):
        if not entity:
            raise ValueError(f"{kind} objects need an entity")
        return f"{kind}/retailer={retailer_id}/entity={entity}/date={_d(day)}/run={run_id}/"
    if kind == "rejected":
        return f"rejected/retailer={retailer_id}/date={_d(day)}/run={run_id}/"
    raise ValueError(f"unknown object kind {kind!r}")


def part_key(kind: str, retailer_id: str, day: dt.date | str, run_id: str,
             part: int = 0, entity: str | None = None) -> str:
    """The key of one part: `.../part-00000.parquet` (silver), `.jsonl.gz` (the others)."""
    suffix = ".parquet" if kind == "silver" else ".jsonl.gz"
    return object_prefix(kind, retailer_id, day, run_id, entity) + f"part-{part:05d}{suffix}"


def manifest_key(retailer_id: str, day: dt.date | str, run_id: str) -> str:
    """The manifest of one partition, written last as its commit marker."""
    return f"manifests/retailer={retailer_id}/date={_d(day)}/run={run_id}.json"
