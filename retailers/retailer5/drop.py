"""Uploading a date's files into the inbox (`retailers drop-files`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import boto3
from botocore.config import Config

from retailers.retailer5.files import DropFile, Faults, day_files


def s3_client(settings):
    """A boto3 client from Retailer5Settings (its own credentials for the partner's drop)."""
    return boto3.client(
        "s3", endpoint_url=settings.s3_endpoint_url or None, region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def drop(s3, bucket: str, prefix: str, files: Sequence[DropFile]) -> list[str]:
    """Put each file under `prefix` (`inbox/retailer5/`), in order. Returns the keys.

    Dropping the same date again uploads the same bytes again (the "same file twice"
    fault is simply a second drop)."""
    keys = []
    for f in files:
        key = prefix + f.name
        s3.put_object(Bucket=bucket, Key=key, Body=f.body, ContentType="text/csv")
        keys.append(key)
    return keys


def drop_day(s3, settings, gen, day: dt.date, faults: Faults | None = None,
             orders_per_day: int | None = None) -> list[str]:
    """Generate and drop one date's files (faults: the settings' unless given)."""
    files = day_files(gen, day, faults=faults or settings.faults(),
                      products=settings.send_products, orders_per_day=orders_per_day)
    return drop(s3, settings.s3_bucket, settings.inbox_prefix, files)
