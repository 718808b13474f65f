"""Which stored partition a load reads: its manifest and its objects.

A partition exists for transformation only once its manifest is recorded (the commit
marker). An ingest run loads its own manifest; a replay run has none of its own and loads
the latest manifest recorded for that retailer and date. Manifests are read through their
contract (`shared.contracts.read_manifest`): one of a major version this code does not
understand is refused with a clear error instead of being misread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.contracts import Manifest, ManifestObject, read_manifest


class PartitionNotFound(Exception):
    """No manifest for the partition (yet)."""


@dataclass(frozen=True)
class Partition:
    run_id: str               # the run that loads it
    source_run_id: str        # the run that wrote its objects
    retailer_id: str
    run_date: dt.date
    manifest_key: str
    manifest: Manifest

    def objects(self, kind: str, entity: str | None = None) -> list[ManifestObject]:
        """The manifest's objects of one kind (and entity), in part order."""
        return self.manifest.objects_of(kind, entity)

    @property
    def currency(self) -> str | None:
        totals = self.manifest.control_totals
        return totals.currency if totals else None


def find_partition(conn: Connection, run_id: str, retailer_id: str,
                   run_date: dt.date) -> Partition:
    """The partition a load of (run, retailer, date) reads.

    Raises:
        PartitionNotFound: an ingest run without its manifest, or a date never ingested.
        shared.contracts.ContractError: the manifest does not follow its contract (an
            unknown major version, a missing field).
    """
    row = conn.execute(
        text("select run_id, manifest_key, manifest from ops.manifest "
             "where run_id = :r and retailer_id = :ret and run_date = :d"),
        {"r": run_id, "ret": retailer_id, "d": run_date},
    ).first()
    if row is None:
        kind = conn.execute(text("select kind from ops.run where run_id = :r"),
                            {"r": run_id}).scalar_one_or_none()
        if kind == "replay":
            row = latest_manifest(conn, retailer_id, run_date)
    if row is None:
        raise PartitionNotFound(
            f"no manifest for {retailer_id} {run_date} (run {run_id})")
    return Partition(run_id=run_id, source_run_id=str(row.run_id), retailer_id=retailer_id,
                     run_date=run_date, manifest_key=row.manifest_key,
                     manifest=read_manifest(row.manifest))


def latest_manifest(conn: Connection, retailer_id: str, run_date: dt.date):
    """The most recently recorded manifest of a retailer and date, or None."""
    return conn.execute(
        text("select run_id, manifest_key, manifest from ops.manifest "
             "where retailer_id = :ret and run_date = :d "
             "order by created_at desc, run_id desc limit 1"),
        {"ret": retailer_id, "d": run_date},
    ).first()


def retailers_with_manifest(conn: Connection, run_date: dt.date) -> list[str]:
    """Retailers that have at least one stored partition for the date."""
    return list(conn.execute(
        text("select distinct retailer_id from ops.manifest where run_date = :d "
             "order by retailer_id"), {"d": run_date}).scalars())
