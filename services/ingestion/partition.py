"""Landing one partition (one retailer, one day): fetch -> normalize -> write -> manifest.

Pages stream through: the prefetch thread downloads the next page while this one is
written to bronze, normalized, and written to silver and rejected; nothing holds the
whole day. The manifest goes to S3 last, as the partition's commit marker.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from services.ingestion.connectors.base import ControlTotals, Page, RetailerClient
from services.ingestion.landing import PartitionWriter, delete_run_objects
from services.ingestion.manifest import build_manifest, publish_manifest
from services.ingestion.prefetch import Prefetcher
from services.ingestion.settings import IngestionSettings
from shared.canonical import ENTITIES

log = logging.getLogger(__name__)

# Called after each page with {"pages": n, "records": n, "resource": "..."}.
ProgressCallback = Callable[[dict[str, Any]], None]


class SourceChangedWhileReading(Exception):
    """The retailer's day changed while it was being read; the attempt is retried."""


@dataclass(frozen=True)
class LandedPartition:
    """A published partition: its manifest and the manifest's S3 key."""

    manifest: dict[str, Any]
    manifest_key: str


def land_partition(client: RetailerClient, s3, bucket: str, *, run_id: str, day: dt.date,
                   settings: IngestionSettings,
                   on_progress: ProgressCallback | None = None) -> LandedPartition:
    """Fetch one retailer's day, land its objects and publish its manifest.

    Args:
        client: the retailer's client (its retry budget covers this partition).
        s3: an S3 client; bucket: the lake bucket.
        run_id: the run whose prefix the objects go under (never another run's).
        day: the UTC day.
        settings: ingestion settings (gzip level, part sizes, prefetch depth).
        on_progress: called after each page.
    Returns:
        The manifest as written to S3, and its key.
    Raises:
        RetailerError: the retailer failed past its budget or refused a request.
    """
    started = time.monotonic()
    retailer_id = client.retailer_id
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"clear-{retailer_id}") as pool:
        # A previous attempt of this same run may have left objects without a manifest.
        # They are deleted while the control totals and the first pages are fetched (a
        # dozen S3 round trips otherwise spent waiting), and before anything is written.
        clearing = pool.submit(contextvars.copy_context().run, delete_run_objects, s3,
                               bucket, retailer_id, day, run_id, client.resources, ENTITIES)
        control = client.control_totals(day)
        with Prefetcher(client.iter_day(day), settings.prefetch_pages,
                        name=f"fetch-{retailer_id}") as fetched:
            leftovers = clearing.result()
            if leftovers:
                log.info("removed %d objects of an earlier attempt", leftovers)
            return _land_pages(client, fetched, s3, bucket, run_id=run_id, day=day,
                               settings=settings, control=control, started=started,
                               on_progress=on_progress)


def _land_pages(client: RetailerClient, fetched: Iterable[Page], s3, bucket: str, *,
                run_id: str, day: dt.date, settings: IngestionSettings, control: ControlTotals,
                started: float, on_progress: ProgressCallback | None) -> LandedPartition:
    """Write, normalize and land every fetched page, then publish the manifest."""
    retailer_id = client.retailer_id
    normalizer = client.normalizer(day)
    writer = PartitionWriter(s3, bucket, retailer_id, day, run_id, settings)
    pages: dict[str, int] = {}
    records = 0
    current: str | None = None
    try:
        for page in fetched:
            if page.resource != current:
                if current is not None:
                    writer.end_resource(current)
                current = page.resource
            writer.bronze(page.resource, page.records)
            writer.normalized(normalizer.normalize(page))
            pages[page.resource] = pages.get(page.resource, 0) + 1
            records += len(page.records)
            if on_progress is not None:
                on_progress({"pages": sum(pages.values()), "records": records,
                             "resource": page.resource})
        writer.normalized(normalizer.finish())
        objects = writer.close()
    except BaseException:
        writer.abort()
        raise
    # Records inserted at the retailer while its pages were read shift offset and page
    # boundaries: lines can be skipped without any page looking wrong. The day's control
    # totals, asked again now, tell: if they moved, this read is not a snapshot of one
    # state, so the attempt fails (without a manifest) and the retry reads the day again.
    after = client.control_totals(day)
    if (after.line_count, after.amount) != (control.line_count, control.amount):
        raise SourceChangedWhileReading(
            f"{retailer_id} {day}: control totals moved from {control.line_count} lines / "
            f"{control.amount} to {after.line_count} / {after.amount} while its pages were "
            "read (page drift); reading the day again")
    manifest = build_manifest(run_id=run_id, retailer_id=retailer_id, day=day,
                              objects=objects, normalizer=normalizer, pages=pages,
                              control=control, client=client,
                              seconds=time.monotonic() - started)
    key = publish_manifest(s3, bucket, manifest)
    log.info("landed %d records in %d pages, %d objects", records, sum(pages.values()),
             len(objects), extra={"seconds": manifest["timings"]["seconds"]})
    return LandedPartition(manifest, key)
