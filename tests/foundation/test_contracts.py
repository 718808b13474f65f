"""The typed contracts of shared/contracts.py: versions, old manifests, refused majors."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from shared.contracts import (
    ContractError,
    DatePayload,
    StepPayload,
    UnsupportedVersion,
    read_manifest,
)

# A manifest as the first writers stored it: a bare integer version, no minor, and only
# some of today's fields (the quality tests' seed writes this shape too).
OLD_MANIFEST = {
    "version": 1, "run_id": "7d1c0f7e-4a5b-4c1e-9b1a-2f5d3c4b5a69",
    "retailer_id": "retailer1", "run_date": "2024-01-15",
    "objects": [{"kind": "silver", "entity": "order_lines", "key": "silver/a", "records": 12},
                {"kind": "rejected", "entity": None, "key": "rejected/a", "records": 1}],
    "counts": {"order_lines": {"received": 13, "normalized": 12, "rejected": 1}},
    "control_totals": {"line_count": 13, "amount": 45.5, "currency": "USD"},
}


def test_an_old_manifest_of_the_same_major_still_reads():
    m = read_manifest(OLD_MANIFEST)
    assert m.version == "1.0" and m.run_date == dt.date(2024, 1, 15)
    assert [o.key for o in m.objects_of("silver", "order_lines")] == ["silver/a"]
    assert m.counts["order_lines"].received == 13
    assert m.control_totals is not None and m.control_totals.amount == "45.5"
    assert m.pages == {} and m.reconciliation is None  # fields it never had: defaults


def test_a_newer_minor_reads_and_keeps_what_it_added():
    later = {**OLD_MANIFEST, "version": "1.7", "lineage": {"source": "stream"}}
    m = read_manifest(orjson.dumps(later))
    assert m.version == "1.7"
    assert m.to_json()["lineage"] == {"source": "stream"}


def test_an_unknown_major_manifest_is_refused_with_a_clear_error():
    with pytest.raises(UnsupportedVersion) as refused:
        read_manifest({**OLD_MANIFEST, "version": "2.0"})
    message = str(refused.value)
    assert "manifest version 2.0 is not supported" in message
    assert "major version 1" in message
    with pytest.raises(ContractError, match="MAJOR.MINOR"):
        read_manifest({**OLD_MANIFEST, "version": "one"})
    with pytest.raises(ContractError, match="not a valid manifest"):
        read_manifest({k: v for k, v in OLD_MANIFEST.items() if k != "run_id"})


def test_task_payloads_round_trip_and_refuse_an_unknown_major():
    sent = StepPayload(run_id="r-1", run_date=dt.date(2024, 1, 15),
                       retailer_id="retailer2").to_kwargs()
    assert sent == {"v": "1.0", "run_id": "r-1", "run_date": "2024-01-15",
                    "retailer_id": "retailer2"}
    assert StepPayload.read(sent).retailer_id == "retailer2"
    # A message from before payloads carried a version is of version 1.0.
    old = StepPayload.read({"run_id": "r-1", "run_date": "2024-01-15"})
    assert old.v == "1.0" and old.retailer_id is None
    with pytest.raises(UnsupportedVersion, match="task payload version 2.0 is not supported"):
        StepPayload.read({**sent, "v": "2.0"})
    with pytest.raises(ContractError, match="not a valid StepPayload"):
        StepPayload.read({**sent, "priority": "high"})  # a field no version of ours has
    assert DatePayload.read({"run_date": "2024-01-15", "retailers": None}).retailers is None
