"""OpenLineage events of the run steps, emitted by the one step runner (shared/steps.py).

Each step a worker claims is an OpenLineage *run* of the job `<step>.<retailer>` (`quality`
for the run-wide step) in the namespace LINEAGE_NAMESPACE: its run id is the step's id (a
UUID derived from the run id, the step and the retailer, so every attempt of the step
reports to the same OpenLineage run), and its `parent` facet names the suite's run (job
`run`, run id = `ops.run.run_id`). Events:

- START when the step's first attempt is claimed (RUNNING when a later attempt is);
- COMPLETE on success, with the step's inputs and outputs as datasets;
- FAIL when it ends failed or dead, with the error (`errorMessage`); a failed attempt that
  will be retried is a RUNNING event with the error.

Datasets, named after the OpenLineage naming conventions where they have one:
- a retailer's API resource: namespace `retailer-api://<retailer>`, name the resource
  (`order-lines`), read by ingest;
- an S3 prefix: namespace `s3://<bucket>`, name `<layer>/retailer=<id>/entity=<e>`
  (bronze, silver; `rejected/retailer=<id>`), written by ingest, read by transform;
- a warehouse table or mart: namespace `postgres://<host>:<port>`, name
  `<database>.<schema>.<table>`, written by transform, read and judged by quality.
Facets: `schema` (fields), `outputStatistics` (rows, bytes, files), and on the tables a
quality step read, `dataQualityAssertions` (each check's result for the run).

Transport (LINEAGE_TRANSPORT): `off` (default: nothing is built or sent), `file` (JSON
lines appended to LINEAGE_FILE; the tests), `http` (POST to LINEAGE_URL + LINEAGE_ENDPOINT,
e.g. Marquez). An event that cannot be sent is logged, never fails the step.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import traceback
import uuid
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection, make_url

from shared import ops
from shared.canonical import ENTITIES
from shared.settings import DatabaseSettings, LineageSettings, S3Settings, current

log = logging.getLogger(__name__)

# Who wrote the events (a URI, as the spec asks; the suite has no public address).
PRODUCER = "urn:retail-pipeline:steps"
PARENT_JOB = "run"
SUCCESS_STATUSES = ("pass", "warn")
# Schema-qualified relations a check's SQL reads (its assertions go on those datasets).
RELATION = re.compile(r"\b(warehouse|marts|ops)\.([a-z_][a-z0-9_]*)\b")
# Where a check that names no table (a Python check) is reported.
DEFAULT_CHECKED = ("warehouse", "fact_sales")


def step_run_id(ref: ops.StepRef) -> str:
    """The step's OpenLineage run id: the same for every attempt of the step."""
    return str(uuid.uuid5(uuid.UUID(ref.run_id), f"{ref.step}/{ref.retailer_id}"))


def job_name(ref: ops.StepRef) -> str:
    return ref.step if ref.retailer_id == ops.RUN_WIDE else f"{ref.step}.{ref.retailer_id}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


# -- datasets ------------------------------------------------------------------------------

def warehouse_namespace() -> tuple[str, str]:
    """`postgres://host:port` and the database's name, from DATABASE_URL."""
    url = make_url(current(DatabaseSettings).database_url)
    return f"postgres://{url.host or 'localhost'}:{url.port or 5432}", url.database or ""


def s3_namespace() -> str:
    return f"s3://{current(S3Settings).s3_bucket}"


@lru_cache(maxsize=256)
def _table_fields(engine: Engine, schema: str, table: str) -> tuple[tuple[str, str], ...]:
    with engine.connect() as conn:
        return tuple((r.column_name, r.data_type) for r in conn.execute(text(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = :s and table_name = :t order by ordinal_position"),
            {"s": schema, "t": table}))


class Datasets:
    """Builds the datasets of one event with the OpenLineage client's classes."""

    def __init__(self, engine: Engine) -> None:
        from openlineage.client.event_v2 import InputDataset, OutputDataset
        from openlineage.client.facet_v2 import (
            data_quality_assertions_dataset,
            output_statistics_output_dataset,
            schema_dataset,
        )

        self.engine = engine
        self.Input, self.Output = InputDataset, OutputDataset
        self.schema_facets = schema_dataset
        self.stats = output_statistics_output_dataset
        self.assertions = data_quality_assertions_dataset

    def schema(self, fields: Iterable[tuple[str, str | None]]) -> Any:
        return self.schema_facets.SchemaDatasetFacet(fields=[
            self.schema_facets.SchemaDatasetFacetFields(name=name, type=kind)
            for name, kind in fields])

    def table(self, schema: str, table: str) -> tuple[str, str, dict[str, Any]]:
        namespace, database = warehouse_namespace()
        fields = _table_fields(self.engine, schema, table)
        facets = {"schema": self.schema(fields)} if fields else {}
        return namespace, f"{database}.{schema}.{table}", facets

    def output_table(self, schema: str, table: str, rows: int | None = None) -> Any:
        namespace, name, facets = self.table(schema, table)
        out: dict[str, Any] = {} if rows is None else {
            "outputStatistics": self.stats.OutputStatisticsOutputDatasetFacet(rowCount=rows)}
        return self.Output(namespace, name, facets=facets, outputFacets=out)

    def input_table(self, schema: str, table: str, assertions: list[Any] | None = None) -> Any:
        namespace, name, facets = self.table(schema, table)
        facet = self.assertions.DataQualityAssertionsDatasetFacet
        extra: dict[str, Any] = ({"dataQualityAssertions": facet(assertions=assertions)}
                                 if assertions else {})
        return self.Input(namespace, name, facets=facets, inputFacets=extra)

    def prefix(self, layer: str, retailer_id: str, entity: str | None) -> str:
        return (f"{layer}/retailer={retailer_id}" if entity is None
                else f"{layer}/retailer={retailer_id}/entity={entity}")

    def silver_fields(self, entity: str) -> list[tuple[str, str | None]]:
        return [(f, None) for f in ENTITIES.get(entity, ())]


def _manifest(conn: Connection, ref: ops.StepRef, run_id: str) -> dict[str, Any]:
    row = conn.execute(text("select manifest from ops.manifest where run_id = :r and "
                            "retailer_id = :ret"), {"r": run_id, "ret": ref.retailer_id}).first()
    return dict(row[0]) if row else {}


def _objects(manifest: dict[str, Any], kind: str) -> dict[str | None, dict[str, int]]:
    """Records, bytes and files per entity of the manifest's objects of one kind."""
    out: dict[str | None, dict[str, int]] = {}
    for o in manifest.get("objects", []):
        if o.get("kind") != kind:
            continue
        agg = out.setdefault(o.get("entity"), {"records": 0, "bytes": 0, "files": 0})
        agg["records"] += int(o.get("records") or 0)
        agg["bytes"] += int(o.get("bytes") or 0)
        agg["files"] += 1
    return out


def ingest_datasets(ds: Datasets, conn: Connection, ref: ops.StepRef,
                    counts: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Ingest read the retailer's API resources and wrote bronze, silver and rejected."""
    manifest = _manifest(conn, ref, ref.run_id)
    bucket = s3_namespace()
    bronze = _objects(manifest, "bronze")
    inputs = [ds.Input(f"retailer-api://{ref.retailer_id}", str(resource))
              for resource in sorted(r for r in bronze if r)]
    outputs = []
    for kind in ("bronze", "silver", "rejected"):
        for entity, agg in sorted(_objects(manifest, kind).items(), key=lambda e: str(e[0])):
            facets = ({"schema": ds.schema(ds.silver_fields(str(entity)))}
                      if kind == "silver" and entity in ENTITIES else {})
            stats = ds.stats.OutputStatisticsOutputDatasetFacet(
                rowCount=agg["records"], size=agg["bytes"], fileCount=agg["files"])
            outputs.append(ds.Output(bucket, ds.prefix(kind, ref.retailer_id,
                                                        None if kind == "rejected" else entity),
                                     facets=facets, outputFacets={"outputStatistics": stats}))
    return inputs, outputs


def transform_datasets(ds: Datasets, conn: Connection, ref: ops.StepRef,
                       counts: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Transform read the partition's silver objects and wrote the warehouse and marts."""
    staged = counts.get("staged", {})
    bucket = s3_namespace()
    inputs = [ds.Input(bucket, ds.prefix("silver", ref.retailer_id, entity),
                       facets={"schema": ds.schema(ds.silver_fields(entity))})
              for entity in sorted(staged)]
    outputs = []
    schemas: dict[str, str] = dict(conn.execute(text(
        "select table_name, table_schema from information_schema.tables "
        "where table_schema in ('warehouse', 'ops') and table_name = any(:t)"),
        {"t": list(counts)}).all())
    for table, figures in sorted(counts.items()):
        if isinstance(figures, dict) and "inserted" in figures and table in schemas:
            written = int(figures.get("inserted", 0)) + int(figures.get("updated", 0))
            outputs.append(ds.output_table(schemas[table], table, written))
    for mart in conn.execute(text(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by table_name")).scalars():
        outputs.append(ds.output_table("marts", mart))
    return inputs, outputs


def quality_datasets(ds: Datasets, conn: Connection, ref: ops.StepRef,
                     counts: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Quality read the warehouse and marts (the checks as assertions on what each read)
    and wrote its results."""
    rows = conn.execute(text(
        "select r.check_name, r.retailer_id, r.status, r.severity, r.observed, r.threshold, "
        "d.body, d.body_kind from quality.check_result r "
        "join quality.check_definition d using (check_name) where r.run_id = :r "
        "order by r.check_name, r.retailer_id"), {"r": ref.run_id}).all()
    by_table: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        tables = sorted(set(RELATION.findall(row.body or ""))) if row.body_kind == "sql" else []
        assertion = ds.assertions.Assertion(
            assertion=row.check_name, success=row.status in SUCCESS_STATUSES,
            severity=row.severity, name=f"{row.check_name}[{row.retailer_id}]",
            expected=None if row.threshold is None else str(row.threshold),
            actual=None if row.observed is None else str(row.observed),
            contentType=row.body_kind)
        for table in tables or [DEFAULT_CHECKED]:
            by_table.setdefault(table, []).append(assertion)
    inputs = [ds.input_table(schema, table, assertions)
              for (schema, table), assertions in sorted(by_table.items())]
    outputs = [ds.output_table("quality", "check_result", len(rows))]
    return inputs, outputs


Describer = Callable[[Datasets, Connection, ops.StepRef, dict[str, Any]],
                     tuple[list[Any], list[Any]]]
# What each stage of shared/stages.py reads and writes (a stage without a line has no
# datasets in its events; a new stage adds its line here).
DESCRIBERS: dict[str, Describer] = {
    "ingest": ingest_datasets,
    "transform": transform_datasets,
    "quality": quality_datasets,
}


# -- events --------------------------------------------------------------------------------

class Lineage:
    """Emits a process's step events; built once per process from its LineageSettings."""

    def __init__(self, settings: LineageSettings) -> None:
        self.settings = settings
        self.client: Any = None
        if settings.lineage_transport == "off":
            return
        from openlineage.client import OpenLineageClient

        transport: dict[str, Any]
        if settings.lineage_transport == "file":
            transport = {"type": "file", "log_file_path": settings.lineage_file, "append": True}
        else:
            transport = {"type": "http", "url": settings.lineage_url,
                         "endpoint": settings.lineage_endpoint}
            if settings.lineage_api_key is not None:
                transport["auth"] = {"type": "api_key",
                                     "apiKey": settings.lineage_api_key.get_secret_value()}
        self.client = OpenLineageClient(config={"transport": transport})

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def _event(self, ref: ops.StepRef, event_type: str, *, inputs: list[Any] | None = None,
               outputs: list[Any] | None = None, error: BaseException | str | None = None,
               attempt: int | None = None) -> Any:
        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import (
            error_message_run,
            job_type_job,
            nominal_time_run,
            parent_run,
        )

        namespace = self.settings.lineage_namespace
        start = dt.datetime.combine(ref.run_date, dt.time(), tzinfo=dt.UTC)
        facets: dict[str, Any] = {
            "parent": parent_run.ParentRunFacet(
                run=parent_run.Run(runId=ref.run_id),
                job=parent_run.Job(namespace=namespace, name=PARENT_JOB)),
            "nominalTime": nominal_time_run.NominalTimeRunFacet(
                nominalStartTime=start.isoformat().replace("+00:00", "Z"),
                nominalEndTime=(start + dt.timedelta(days=1)).isoformat().replace(
                    "+00:00", "Z")),
        }
        if error is not None:
            message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            stack = (None if isinstance(error, str)
                     else "".join(traceback.format_exception(error, limit=8)))
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=message[:4000], programmingLanguage="python", stackTrace=stack)
        job_facets: dict[str, Any] = {"jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="RETAIL_PIPELINE", jobType="STEP")}
        return RunEvent(eventType=getattr(RunState, event_type), eventTime=_now(),
                        run=Run(runId=step_run_id(ref), facets=facets),
                        job=Job(namespace=namespace, name=job_name(ref), facets=job_facets),
                        inputs=inputs or [], outputs=outputs or [], producer=PRODUCER)

    def _emit(self, build: Callable[[], Any]) -> None:
        if not self.enabled:
            return
        try:
            self.client.emit(build())
        except Exception:  # noqa: BLE001 - lineage never fails a step
            log.warning("could not emit an OpenLineage event", exc_info=True)

    def started(self, ref: ops.StepRef, engine: Engine) -> None:
        """The step was claimed: START on its first attempt, RUNNING on a later one."""
        if not self.enabled:
            return

        def build() -> Any:
            with engine.connect() as conn:
                attempts = conn.execute(text(
                    "select attempts from ops.run_step where run_id = :r and step = :s and "
                    "retailer_id = :ret"), {"r": ref.run_id, "s": ref.step,
                                            "ret": ref.retailer_id}).scalar() or 1
            return self._event(ref, "START" if attempts <= 1 else "RUNNING")

        self._emit(build)

    def completed(self, ref: ops.StepRef, counts: dict[str, Any], engine: Engine) -> None:
        """The step succeeded: COMPLETE with what it read and wrote."""
        if not self.enabled:
            return

        def build() -> Any:
            describe = DESCRIBERS.get(ref.step)
            inputs: list[Any] = []
            outputs: list[Any] = []
            if describe is not None:
                with engine.connect() as conn:
                    inputs, outputs = describe(Datasets(engine), conn, ref, counts)
            return self._event(ref, "COMPLETE", inputs=inputs, outputs=outputs)

        self._emit(build)

    def failed(self, ref: ops.StepRef, error: BaseException, *, final: bool) -> None:
        """An attempt failed: FAIL when the step ended (failed, dead), else RUNNING."""
        self._emit(lambda: self._event(ref, "FAIL" if final else "RUNNING", error=error))


_emitters: dict[int, Lineage] = {}


def lineage() -> Lineage:
    """The process's emitter, for its LineageSettings (off unless LINEAGE_TRANSPORT says)."""
    settings = current(LineageSettings)
    emitter = _emitters.get(id(settings))
    if emitter is None or emitter.settings is not settings:
        emitter = _emitters[id(settings)] = Lineage(settings)
    return emitter
