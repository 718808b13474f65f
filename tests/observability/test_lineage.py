"""The step runner's OpenLineage events when a step fails: a failed attempt that will be
retried is RUNNING with the error, the step's end FAIL, all valid against the schema; with
the transport off nothing is written."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shared import lineage as lineage_module
from shared import ops, steps
from shared.settings import LineageSettings
from shared.steps import run_step
from tests.observability.openlineage_schema import validate_run_event

DAY = dt.date(2024, 4, 3)


@pytest.fixture
def events_file(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    emitter = lineage_module.Lineage(LineageSettings(lineage_transport="file",
                                                     lineage_file=str(path)))
    monkeypatch.setattr(steps, "lineage", lambda: emitter)
    return path


def test_a_failing_step_reports_its_attempts_and_its_end(clean_warehouse, settings,
                                                         events_file):
    engine = clean_warehouse
    with engine.begin() as conn:
        run_id = ops.create_run(conn, DAY, ["retailer1"], max_attempts=2)
    ref = ops.StepRef(run_id, "transform", "retailer1", DAY)

    def broken(_step) -> None:
        raise ConnectionError("the lake went away")

    s = settings.model_copy(update={"step_max_attempts": 2})
    assert run_step(ref, broken, settings=s, engine=engine, send=False).status == "retry"
    assert run_step(ref, broken, settings=s, engine=engine, send=False).status == "dead"
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    for event in events:
        validate_run_event(event)
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "RUNNING", "FAIL"]
    assert {e["run"]["runId"] for e in events} == {lineage_module.step_run_id(ref)}
    assert {e["job"]["name"] for e in events} == {"transform.retailer1"}
    fail = events[-1]["run"]["facets"]["errorMessage"]
    assert fail["message"] == "ConnectionError: the lake went away"
    assert "ConnectionError" in fail["stackTrace"]
    assert "errorMessage" in events[1]["run"]["facets"]  # the retried attempt's error
    assert events[0]["run"]["facets"]["parent"]["run"]["runId"] == run_id


def test_with_the_transport_off_nothing_is_built(clean_warehouse, settings):
    emitter = lineage_module.Lineage(LineageSettings(lineage_transport="off"))
    assert not emitter.enabled and emitter.client is None
    emitter.failed(ops.StepRef("00000000-0000-0000-0000-000000000001", "ingest", "r", DAY),
                   RuntimeError("x"), final=True)  # a no-op, never an error
