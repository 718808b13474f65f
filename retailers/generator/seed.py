"""Write master data and dates into the retailers' databases.

One transaction per (retailer, date): delete what the generator wrote for orders created
that date, COPY the regenerated arrays into staging, shape them into the retailer's tables,
bump the data version. Re-seeding a date is therefore idempotent, and a date's rows are the
same whichever other dates were seeded before.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg2 import sql

from retailers.core.pgcopy import copy_in
from retailers.core.spec import RetailerSpec
from retailers.db import connect, database_url, init_db
from retailers.generator.calendar import ORDER_BLOCK, check_day, day_index, days
from retailers.generator.day import generate_day
from retailers.generator.frames import DayData
from retailers.generator.master import MasterData, Volumes, build_master
from retailers.generator.staging import stage_master
from retailers.registry import get_spec
from retailers.settings import GeneratorSettings

# Serializes seeders of one database (two CLIs at once would otherwise interleave deletes).
SEED_LOCK = 7_311_001


@dataclass(frozen=True)
class DaySeed:
    """What was written for one retailer and date."""

    retailer_id: str
    day: dt.date
    orders: int
    lines: int
    events: int
    faults: dict[str, int]
    generate_seconds: float
    write_seconds: float


@dataclass
class SeedReport:
    """The outcome of `seed_dates`."""

    days: list[DaySeed] = field(default_factory=list)
    master: dict[str, str] = field(default_factory=dict)  # retailer -> "loaded" | "kept"
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        return sum(d.lines for d in self.days)

    @property
    def orders(self) -> int:
        return sum(d.orders for d in self.days)


def seed_dates(retailer_ids: Sequence[str], start: dt.date, end: dt.date | None = None, *,
               settings: Any = None, generator: Any = None,
               overrides: Mapping[str, Any] | None = None,
               database_urls: Mapping[str, str] | None = None,
               parallel: bool = True) -> SeedReport:
    """Generate and write dates start..end (inclusive) for the given retailers.

    Args:
        retailer_ids: e.g. `["retailer1", "retailer2", "retailer3"]`.
        start: first date; end: last date (defaults to start).
        settings: an object with `.retailer` (generator settings) and a `.<retailer_id>`
            section with `database_url` per retailer (the tests' and the stack's view).
        generator: the GeneratorSettings to use (default: `settings.retailer`, else
            RETAILER_* read from the environment).
        overrides: generator settings to replace for this call, e.g.
            `{"orders_per_day": 60, "fault_rate": 0.05}`.
        database_urls: per-retailer database URLs replacing the settings' ones (default:
            each RETAILERn_DATABASE_URL).
        parallel: seed the retailers concurrently (each has its own database).
    Returns:
        A SeedReport with one DaySeed per retailer and date, and whether master data was
        (re)loaded.
    """
    common = generator or (settings.retailer if settings is not None else GeneratorSettings())
    if overrides:
        unknown = set(overrides) - set(type(common).model_fields)
        if unknown:
            raise ValueError(f"unknown retailer settings: {', '.join(sorted(unknown))}")
        common = type(common).model_validate({**common.model_dump(), **overrides})
    dates = days(start, end or start)
    for d in dates:
        check_day(d)
    urls = {rid: (database_urls or {}).get(rid) or database_url(rid, settings)
            for rid in retailer_ids}
    began = time.perf_counter()
    report = SeedReport()

    def run(rid: str) -> tuple[str, str, list[DaySeed]]:
        state, seeded = seed_retailer(get_spec(rid), urls[rid], common, dates)
        return rid, state, seeded

    workers = len(retailer_ids) if parallel else 1
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for rid, state, seeded in pool.map(run, retailer_ids):
            report.master[rid] = state
            report.days.extend(seeded)
    report.seconds = time.perf_counter() - began
    return report


def volumes_of(common) -> Volumes:
    """The master-data part of RetailerCommonSettings."""
    return Volumes(seed=common.seed, products=common.products, customers=common.customers,
                   stores=common.stores, fault_rate=common.fault_rate,
                   price_change_rate=common.price_change_rate,
                   customer_change_rate=common.customer_change_rate)


def seed_retailer(spec: RetailerSpec, url: str, common,
                  dates: Sequence[dt.date]) -> tuple[str, list[DaySeed]]:
    """Seed one retailer's database: master data when needed, then each date."""
    init_db(spec.retailer_id, url)
    master = build_master(spec.profile, volumes_of(common))
    conn = connect(url, f"{spec.retailer_id}-seed")
    try:
        state = ensure_master(conn, spec, master)
        seeded, written = [], set()
        for d in dates:
            t0 = time.perf_counter()
            data = generate_day(master, d, common.orders_per_day)
            t1 = time.perf_counter()
            written |= write_day(conn, spec, master, data)
            seeded.append(DaySeed(spec.retailer_id, d, len(data.orders.order_no),
                                  len(data.lines.line_key), len(data.events.order_no),
                                  data.faults, t1 - t0, time.perf_counter() - t1))
        analyze(conn, sorted(written))
        return state, seeded
    finally:
        conn.close()


def ensure_master(conn, spec: RetailerSpec, master: MasterData) -> str:
    """Load master data unless the database already holds this exact master data.

    Different master data (another seed or volume) makes every stored date meaningless, so
    the retailer's tables are emptied first. Returns "loaded" or "kept".
    """
    fingerprint = master.fingerprint()
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (SEED_LOCK,))
        cur.execute("select fingerprint from sim.generator where id = 1")
        row = cur.fetchone()
        if row and row[0] == fingerprint:
            return "kept"
        cur.execute("select format('%I.%I', schemaname, tablename) from pg_tables "
                    "where schemaname = 'public'")
        tables = [r[0] for r in cur.fetchall()]
        if tables:
            cur.execute(f"truncate {', '.join(tables)}")
        cur.execute("truncate sim.seeded_day")
        stage_master(cur, master)
        cur.execute(spec.storage.master)
        cur.execute(f"analyze {', '.join(tables)}")
        cur.execute("update sim.generator set fingerprint = %s, master_loaded_at = now(), "
                    "data_version = data_version + 1 where id = 1",
                    (orjson.dumps(fingerprint).decode(),))
    return "loaded"


# Tables analyzed per transaction: each holds a lock until commit, and years of daily
# partitions at once exhaust the server's lock table (max_locks_per_transaction).
ANALYZE_BATCH = 64


def analyze(conn, tables: Sequence[str]) -> None:
    """Refresh the planner's statistics after a bulk write: without them the API's page
    queries of a freshly seeded day get plans made for empty tables."""
    for start in range(0, len(tables), ANALYZE_BATCH):
        with conn, conn.cursor() as cur:
            cur.execute(f"analyze {', '.join(tables[start:start + ANALYZE_BATCH])}")


def partition_name(table: str, day: dt.date) -> str:
    """The partition of `table` holding the orders created on `day`."""
    return f"{table}_{day:%Y%m%d}"


def write_day(conn, spec: RetailerSpec, master: MasterData, data: DayData) -> set[str]:
    """Replace one date's orders, lines and events in one transaction. Returns the
    partitions written.

    Each table's partition for the date is built apart and then attached: drop the old
    one (a re-seed), create a bare table, COPY the rows in with FREEZE (allowed on a table
    created in the same transaction: rows land frozen and all-visible, so index-only scans
    need no VACUUM), then ATTACH it, which builds the parent's indexes by sorting, at a
    third of the cost of updating them row by row. Dropping instead of deleting keeps a
    re-seed as fast as a first seed.
    """
    lo = day_index(data.day) * ORDER_BLOCK
    partitions = {table: partition_name(table, data.day) for table in spec.storage.partitions}
    t0 = time.perf_counter()
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (SEED_LOCK,))
        for table, part in partitions.items():
            cur.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(part)))
            cur.execute(sql.SQL("create table {} (like {} including defaults including "
                                "constraints)").format(sql.Identifier(part),
                                                       sql.Identifier(table)))
        for table in spec.storage.day_tables(data, master.volumes.seed):
            copy_in(cur, table, into=partitions[table.table], freeze=True)
        for table, block in spec.storage.partitions.items():
            cur.execute(sql.SQL("alter table {} attach partition {} for values from (%s) "
                                "to (%s)").format(sql.Identifier(table),
                                                  sql.Identifier(partitions[table])),
                        block.bounds(lo, lo + ORDER_BLOCK))
        cur.execute(
            "insert into sim.seeded_day (day, orders, lines, events, faults, seconds) "
            "values (%s, %s, %s, %s, %s, %s) on conflict (day) do update set "
            "orders = excluded.orders, lines = excluded.lines, events = excluded.events, "
            "faults = excluded.faults, seconds = excluded.seconds, seeded_at = now()",
            (data.day, len(data.orders.order_no), len(data.lines.line_key),
             len(data.events.order_no), orjson.dumps(data.faults).decode(),
             time.perf_counter() - t0))
        cur.execute("update sim.generator set data_version = data_version + 1 where id = 1")
    return set(partitions.values())
