"""shared/run_models.py: the versioned run JSON, as GET /runs/{id} serves it and a reader
reads it."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.run_models import RUN_JSON_VERSION, UnsupportedVersion, parse_run_status
from tests.fixtures.ingestion import make_run


def test_a_run_document_round_trips_and_another_major_is_refused(ingestion_api, engine):
    run_id = make_run(engine, dt.date(2024, 1, 15), ["retailer1", "retailer2"])
    document = ingestion_api.get(f"/runs/{run_id}").json()
    assert document["version"] == RUN_JSON_VERSION == "1.0"
    run = parse_run_status(document)
    assert (run.run_id, run.run_date, run.status) == (run_id, dt.date(2024, 1, 15), "queued")
    assert sorted(run.retailers) == ["retailer1", "retailer2"]
    assert run.retailers["retailer2"]["ingest"].max_attempts == 3
    assert run.quality is not None and run.quality.status == "pending"
    assert ingestion_api.get("/runs").json()["runs"][0]["version"] == "1.0"

    assert parse_run_status({**document, "version": "1.7"}).run_id == run_id  # minor: fine
    with pytest.raises(UnsupportedVersion, match="version '2.0'; this reader understands 1.x"):
        parse_run_status({**document, "version": "2.0"})
    with pytest.raises(UnsupportedVersion, match="version '.none.'"):
        parse_run_status({k: v for k, v in document.items() if k != "version"})
