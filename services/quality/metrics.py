"""The pipeline's figures for Prometheus, computed from the ops and quality tables at scrape
time (so they are right whatever worker did the work, and survive any restart).

The quality API exposes them at `GET /metrics` beside its process metrics. No scrape reads
the whole history: every "latest" figure is one short walk of an index of
`database/init/60_observability.sql`, the steps not yet ended are few, and the ended steps'
sums (counts, durations, lines) are kept in the process and brought up to date from the
steps that ended since the last scrape (`EndedSteps`); only the runs by status are counted
over ops.run. bench/bench_metrics.py measures a scrape with 1,000 and 10,000 runs stored.

Labels are low-cardinality only: retailer, stage (ingest, transform, quality), status,
phase (received, normalized, rejected, loaded), check. Never a run id or a date.

    retail_runs{status}                              runs now in each status
    retail_run_latest_status{retailer,status}        1 for the status of the retailer's latest
                                                     finished run, 0 for the others
    retail_run_latest_finished_timestamp_seconds{retailer}
    retail_steps{stage,status}                       steps now in each status (dead included)
    retail_step_duration_seconds{stage,status}       histogram of ended steps' durations
    retail_lines_total{retailer,phase}               order lines over every succeeded step
    retail_partition_lines{retailer,phase}           the lines of the retailer's latest partition
    retail_rejected_share_threshold_ratio{level}     QUALITY_REJECTED_SHARE_WARN / _FAIL
    retail_check_results{check,status}               the latest result of each check, counted
                                                     over the retailers' latest judged runs
    retail_freshness_age_seconds{retailer}           since the end of the latest complete date
    retail_freshness_deadline_timestamp_seconds{retailer}
                                                     when the next date owed is due
    retail_stream_consumer_lag_messages{stream,consumer}
                                                     messages a stream consumer has not yet
                                                     taken (`ops.stream_consumer`, which the
                                                     stream consumer updates after each batch)
    retail_ops_scrape_success, retail_ops_scrape_duration_seconds
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from services.quality.deadlines import deadline, latest_due_date
from services.quality.settings import QualitySettings
from shared.db import get_engine
from shared.ops import RUN_WIDE
from shared.settings import RETAILER_IDS

log = logging.getLogger(__name__)

RUN_STATUSES = ("queued", "running", "succeeded", "succeeded_with_warnings", "failed",
                "canceled")
# Finished runs that were judged (the literal lists in the SQL below match the partial
# indexes of 60_observability.sql, so the planner uses them).
JUDGED_STATUSES = ("succeeded", "succeeded_with_warnings", "failed")
STEP_STATUSES = ("pending", "queued", "running", "succeeded", "failed", "dead", "skipped")
CHECK_STATUSES = ("pass", "warn", "fail", "error")
PHASES = ("received", "normalized", "rejected", "loaded")
# Step durations: a demo's steps take a second or two, a million lines a minute.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

# The steps that ended in [since, until), summed per stage, status, retailer and duration
# bucket (width_bucket: 0 below the first bound, i for [bound i, bound i+1); -1: no
# duration, a skipped step). Lines: an ingest step's order lines (received, normalized,
# rejected) and a transform step's lines written to fact_sales (inserted, updated or
# unchanged), from ops.run_step.counts (empty on a step that did not succeed).
ENDED_SQL = """
    select step, status, retailer_id,
           coalesce(width_bucket(seconds, cast(:bounds as float8[])), -1) as bucket,
           count(*) as n, coalesce(sum(seconds), 0) as seconds,
           sum(received) as received, sum(normalized) as normalized,
           sum(rejected) as rejected, sum(loaded) as loaded
    from (
      select step, status, retailer_id,
             case when status in ('succeeded', 'failed', 'dead') and started_at is not null
                  then extract(epoch from finished_at - started_at)::float8 end as seconds,
             case when step = 'ingest'
                  then coalesce((counts->'order_lines'->>'received')::bigint, 0) end
               as received,
             case when step = 'ingest'
                  then coalesce((counts->'order_lines'->>'normalized')::bigint, 0) end
               as normalized,
             case when step = 'ingest'
                  then coalesce((counts->'order_lines'->>'rejected')::bigint, 0) end
               as rejected,
             case when step = 'transform'
                  then coalesce((counts->'fact_sales'->>'inserted')::bigint, 0)
                       + coalesce((counts->'fact_sales'->>'updated')::bigint, 0)
                       + coalesce((counts->'fact_sales'->>'unchanged')::bigint, 0) end
               as loaded
      from ops.run_step
      where status in ('succeeded', 'failed', 'dead', 'skipped')
        and finished_at >= :since and finished_at < :until) ended
    group by 1, 2, 3, 4
"""
# A step's end is settled (counted once and for all) once it ended this long ago: its
# transaction has committed by then (a step records its end just before it commits).
SETTLE_SECONDS = 600
DURATION_STATUSES = ("succeeded", "failed", "dead")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FOREVER = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


@dataclass
class Tally:
    """Ended steps of one stage, status and retailer: how many, their durations, lines."""

    count: int = 0
    seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    lines: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))

    def add(self, other: Tally) -> None:
        self.count += other.count
        self.seconds += other.seconds
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        for phase in PHASES:
            self.lines[phase] += other.lines[phase]


Key = tuple[str, str, str]  # stage, status, retailer


class EndedSteps:
    """The ended steps of every run, summed, read without re-reading the history.

    An ended step never changes again, so the sums of the steps that ended before a
    watermark are kept in the process (`settled`), and each scrape reads only what ended
    since: the steps that ended in the last SETTLE_SECONDS (re-read each time, as a step
    that ended a moment ago may not have committed yet) and those that settled since the
    last scrape, both a range of the `run_step_ended_ix` index. The first scrape of a
    process reads the whole history once. Rows deleted from ops.run_step (a run deleted)
    stay counted until the process restarts, as counters do.
    """

    def __init__(self, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.settle_seconds = settle_seconds
        self.settled: dict[Key, Tally] = {}
        self.settled_before = EPOCH
        self.lock = threading.Lock()

    def _sums(self, conn: Connection, since: dt.datetime,
              until: dt.datetime | None) -> dict[Key, Tally]:
        out: dict[Key, Tally] = {}
        rows = conn.execute(text(ENDED_SQL), {
            "bounds": list(DURATION_BUCKETS),
            "since": since, "until": until or FOREVER})
        for row in rows:
            tally = out.setdefault((row.step, row.status, row.retailer_id), Tally())
            tally.count += row.n
            tally.seconds += float(row.seconds)
            if row.bucket >= 0:
                tally.buckets[row.bucket] += row.n
            for phase in PHASES:
                tally.lines[phase] += int(getattr(row, phase) or 0)
        return out

    def read(self, conn: Connection) -> dict[Key, Tally]:
        """Every ended step, summed per stage, status and retailer."""
        with self.lock:
            now = conn.execute(text("select clock_timestamp()")).scalar_one()
            cutoff = now - dt.timedelta(seconds=self.settle_seconds)
            if cutoff > self.settled_before:
                for key, tally in self._sums(conn, self.settled_before, cutoff).items():
                    self.settled.setdefault(key, Tally()).add(tally)
                self.settled_before = cutoff
            total: dict[Key, Tally] = {}
            for part in (self.settled, self._sums(conn, self.settled_before, None)):
                for key, tally in part.items():
                    total.setdefault(key, Tally()).add(tally)
            return total


_LINES_SQL = """
    select retailer_id,
      sum(coalesce((counts->'order_lines'->>'received')::bigint, 0))
        filter (where step = 'ingest') as received,
      sum(coalesce((counts->'order_lines'->>'normalized')::bigint, 0))
        filter (where step = 'ingest') as normalized,
      sum(coalesce((counts->'order_lines'->>'rejected')::bigint, 0))
        filter (where step = 'ingest') as rejected,
      sum(coalesce((counts->'fact_sales'->>'inserted')::bigint, 0)
          + coalesce((counts->'fact_sales'->>'updated')::bigint, 0)
          + coalesce((counts->'fact_sales'->>'unchanged')::bigint, 0))
        filter (where step = 'transform') as loaded
    from ops.run_step
    where status = 'succeeded' and step in ('ingest', 'transform')
"""
# ...of each retailer's latest succeeded ingest and transform steps.
LATEST_LINES_SQL = _LINES_SQL + """
    and (run_id, step, retailer_id) in (
      select l.run_id, s.step, r.retailer_id
      from unnest(cast(:retailers as text[])) r(retailer_id)
      cross join (values ('ingest'), ('transform')) s(step)
      cross join lateral (
        select run_id from ops.run_step x
        where x.step = s.step and x.retailer_id = r.retailer_id and x.status = 'succeeded'
        order by x.finished_at desc limit 1) l)
    group by retailer_id
"""


def _day_start(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()


class PipelineCollector(Collector):
    """Reads the ops and quality tables on every scrape (a custom collector: nothing is
    kept in the process between scrapes).

    Args:
        settings: the quality settings (thresholds, the freshness deadline).
        engine: defaults to the process's (`shared.db.get_engine`), taken at scrape time.
        retailers: the retailers expected every day.
        now: the clock (tests move it).
    """

    def __init__(self, settings: QualitySettings, engine: Engine | None = None,
                 retailers: Sequence[str] = RETAILER_IDS, now: Any = None) -> None:
        self.settings = settings
        self.engine = engine
        self.retailers = tuple(retailers)
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.history = EndedSteps()

    def describe(self) -> list[Metric]:
        # Nothing to describe up front: registering must not query the database.
        return []

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        metrics: list[Metric] = []
        ok = 1.0
        try:
            with (self.engine or get_engine()).connect() as conn:
                metrics = list(self._figures(conn))
        except Exception:  # noqa: BLE001 - a scrape reports the failure, it does not fail
            log.warning("could not read the pipeline's figures for /metrics", exc_info=True)
            ok = 0.0
        yield from metrics
        yield GaugeMetricFamily("retail_ops_scrape_success", "1 when the pipeline's figures "
                                "could be read from the ops and quality tables.", value=ok)
        yield GaugeMetricFamily("retail_ops_scrape_duration_seconds", "Time taken to read the "
                                "pipeline's figures for this scrape.",
                                value=time.perf_counter() - started)

    # -- the figures ----------------------------------------------------------------------

    def _figures(self, conn: Connection) -> Iterator[Metric]:
        conn.execute(text("set transaction read only"))
        yield from self._runs(conn)
        yield from self._steps(conn)
        yield from self._lines(conn)
        yield from self._checks(conn)
        yield from self._freshness(conn)
        yield from self._consumer_lag(conn)

    def _runs(self, conn: Connection) -> Iterator[Metric]:
        counts = dict.fromkeys(RUN_STATUSES, 0)
        counts.update({row.status: row.n for row in conn.execute(text(
            "select status, count(*) as n from ops.run group by status"))})
        runs = GaugeMetricFamily("retail_runs", "Runs now in each status.", labels=["status"])
        for status, n in counts.items():
            runs.add_metric([status], n)
        yield runs

        latest = conn.execute(text("""
            select r.retailer_id, l.status, l.finished_at
            from unnest(cast(:retailers as text[])) r(retailer_id)
            cross join lateral (
              select status, finished_at from ops.run
              where status in ('succeeded', 'succeeded_with_warnings', 'failed')
                and retailers @> array[r.retailer_id]
              order by finished_at desc limit 1) l
        """), {"retailers": list(self.retailers)}).all()
        state = GaugeMetricFamily(
            "retail_run_latest_status", "1 for the status the latest finished run covering "
            "the retailer ended with (its verdict), 0 for the others.",
            labels=["retailer", "status"])
        finished = GaugeMetricFamily(
            "retail_run_latest_finished_timestamp_seconds", "When the latest finished run "
            "covering the retailer ended (Unix time).", labels=["retailer"])
        for row in latest:
            for status in JUDGED_STATUSES:
                state.add_metric([row.retailer_id, status], float(row.status == status))
            finished.add_metric([row.retailer_id], row.finished_at.timestamp())
        yield state
        yield finished

    def _steps(self, conn: Connection) -> Iterator[Metric]:
        ended = self.history.read(conn)
        steps = GaugeMetricFamily("retail_steps", "Run steps now in each status, by stage "
                                  "(dead: gave up after STEP_MAX_ATTEMPTS).",
                                  labels=["stage", "status"])
        counts = {(stage, status): sum(t.count for (st, s, _), t in ended.items()
                                       if (st, s) == (stage, status))
                  for stage, status, _ in ended}
        # The steps not ended yet are few: an index range scan (run_step_lease_ix).
        counts.update({(row.step, row.status): row.n for row in conn.execute(text(
            "select step, status, count(*) as n from ops.run_step "
            "where status in ('pending', 'queued', 'running') group by step, status"))})
        for stage in sorted({s for s, _ in counts} | {"ingest", "transform", "quality"}):
            for status in STEP_STATUSES:
                steps.add_metric([stage, status], counts.get((stage, status), 0))
        yield steps

        hist = HistogramMetricFamily(
            "retail_step_duration_seconds", "How long ended steps took, from the claim of "
            "their last attempt to their end.", labels=["stage", "status"])
        per: dict[tuple[str, str], Tally] = {}
        for (stage, status, _), tally in ended.items():
            if status in DURATION_STATUSES:
                per.setdefault((stage, status), Tally()).add(tally)
        for (stage, status), tally in sorted(per.items()):
            cumulative, running = [], 0
            for bound, n in zip((*map(str, DURATION_BUCKETS), "+Inf"), tally.buckets,
                                strict=True):
                running += n
                cumulative.append((bound, running))
            hist.add_metric([stage, status], cumulative, sum_value=tally.seconds)
        yield hist

        total = CounterMetricFamily(
            "retail_lines", "Order lines over every succeeded step, by phase: received, "
            "normalized and rejected by ingestion, loaded into fact_sales by transformation.",
            labels=["retailer", "phase"])
        lines: dict[str, dict[str, int]] = {}
        for (_, status, retailer), tally in ended.items():
            if status == "succeeded" and retailer != RUN_WIDE:
                mine = lines.setdefault(retailer, dict.fromkeys(PHASES, 0))
                for phase in PHASES:
                    mine[phase] += tally.lines[phase]
        for retailer, figures in sorted(lines.items()):
            for phase in PHASES:
                total.add_metric([retailer, phase], figures[phase])
        yield total

    def _lines(self, conn: Connection) -> Iterator[Metric]:
        latest = GaugeMetricFamily(
            "retail_partition_lines", "Order lines of the retailer's latest succeeded "
            "partition (its latest ingest and transform steps), by phase.",
            labels=["retailer", "phase"])
        for row in conn.execute(text(LATEST_LINES_SQL), {"retailers": list(self.retailers)}):
            for phase in PHASES:
                latest.add_metric([row.retailer_id, phase], int(getattr(row, phase) or 0))
        yield latest
        share = GaugeMetricFamily(
            "retail_rejected_share_threshold_ratio", "Share of received records rejected "
            "above which a run warns or fails (QUALITY_REJECTED_SHARE_WARN / _FAIL).",
            labels=["level"])
        share.add_metric(["warn"], self.settings.rejected_share_warn)
        share.add_metric(["fail"], self.settings.rejected_share_fail)
        yield share

    def _checks(self, conn: Connection) -> Iterator[Metric]:
        rows = conn.execute(text("""
            with latest as (
              select r.retailer_id, l.run_id
              from unnest(cast(:retailers as text[])) r(retailer_id)
              cross join lateral (
                select run_id from ops.run
                where status in ('succeeded', 'succeeded_with_warnings', 'failed')
                and retailers @> array[r.retailer_id]
                order by finished_at desc limit 1) l
            ), keys as (
              select run_id, retailer_id from latest
              union
              select distinct run_id, :run_wide from latest
            )
            select c.check_name, c.status, count(*) as n
            from keys k join quality.check_result c
              on c.run_id = k.run_id and c.retailer_id = k.retailer_id
            group by 1, 2
        """), {"retailers": list(self.retailers), "run_wide": RUN_WIDE}).all()
        counts = {(row.check_name, row.status): row.n for row in rows}
        checks = GaugeMetricFamily(
            "retail_check_results", "The latest result of each check, counted over the "
            "retailers' latest judged runs (run-wide checks once per run), by status.",
            labels=["check", "status"])
        for check in sorted({c for c, _ in counts}):
            for status in CHECK_STATUSES:
                checks.add_metric([check, status], counts.get((check, status), 0))
        yield checks

    def _freshness(self, conn: Connection) -> Iterator[Metric]:
        now = self.now()
        first_created = conn.execute(text("select min(created_at) from ops.run")).scalar()
        rows = conn.execute(text("""
            select r.retailer_id, l.run_date
            from unnest(cast(:retailers as text[])) r(retailer_id)
            left join lateral (
              select run_date from ops.run
              where status in ('succeeded', 'succeeded_with_warnings')
                and retailers @> array[r.retailer_id]
              order by run_date desc limit 1) l on true
        """), {"retailers": list(self.retailers)}).all()
        age = GaugeMetricFamily(
            "retail_freshness_age_seconds", "Seconds since the end (UTC midnight) of the "
            "retailer's latest complete date.", labels=["retailer"])
        due = GaugeMetricFamily(
            "retail_freshness_deadline_timestamp_seconds", "When the retailer's next date "
            "owed (the day after its latest complete date, or the first date owed since the "
            "first run) must be complete (Unix time); past it, the date is late.",
            labels=["retailer"])
        first_owed = (latest_due_date(first_created, self.settings) + dt.timedelta(days=1)
                      if first_created is not None else None)
        for row in rows:
            if row.run_date is not None:
                age.add_metric([row.retailer_id], now.timestamp()
                               - _day_start(row.run_date + dt.timedelta(days=1)))
            owed = [d for d in (row.run_date and row.run_date + dt.timedelta(days=1),
                                first_owed) if d is not None]
            if owed:
                due.add_metric([row.retailer_id], deadline(max(owed), self.settings).timestamp())
        yield age
        yield due

    def _consumer_lag(self, conn: Connection) -> Iterator[Metric]:
        # One row per durable consumer, written by the consumer after each batch: no series
        # until a consumer has run.
        lag = GaugeMetricFamily(
            "retail_stream_consumer_lag_messages", "Messages of the stream its consumer has "
            "not yet taken.", labels=["stream", "consumer"])
        for row in conn.execute(text("select stream, consumer, lag_messages "
                                     "from ops.stream_consumer")):
            lag.add_metric([row.stream, row.consumer], float(row.lag_messages or 0))
        yield lag


def collectors(settings: Any) -> list[Collector]:
    """The quality API's collectors (`ServiceApi.metrics`): the pipeline's figures."""
    return [PipelineCollector(settings.quality)]
