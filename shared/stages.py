"""The stage table: which steps a run has, which task does each, and what runs next.

This is the one place that says "after ingest comes transform, after the last partition
comes quality, and quality ends the run with its verdict". The step runner
(`shared/steps.py`), run creation and the sweeper (`shared/ops.py`) all read it; no service
decides on its own what runs after it.

A stage is one `ops.run_step` kind. A partition stage has one step per retailer of the run;
a run-wide stage has one step (retailer '*') that starts when every partition step of the
run has ended (succeeded, failed, dead or skipped), whoever ends last. A line may serve only
some retailers (`retailers=`): for them it replaces the line of the same step that serves
everyone, so a retailer that delivers another way (a stream, a file drop) gets its own task
for the step, or its own chain, without touching the others. docs/architecture.md ("Adding
a step kind") shows how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RUN_WIDE = "*"
# `then` of the last stage: its work sets the run's final status (the verdict).
VERDICT = "verdict"


@dataclass(frozen=True)
class Stage:
    """One line of the table.

    Attributes:
        step: the step's name in `ops.run_step.step`.
        task: the Celery task that does it, sent by name on the queue of its prefix.
        then: the step that follows it (the same retailer's, or a run-wide one), or VERDICT.
        run_wide: one step per run (retailer '*') instead of one per retailer.
        retailers: the retailers this line serves; None serves every retailer that has no
            line of its own for the step.
    """

    step: str
    task: str
    then: str
    run_wide: bool = False
    retailers: frozenset[str] | None = None


STAGES: tuple[Stage, ...] = (
    Stage("ingest", "ingestion.ingest_partition", then="transform"),
    Stage("ingest", "ingestion.ingest_file", then="transform", retailers=frozenset({"retailer5"})),
    # retailer4 delivers by events: its day is closed against the source's control totals
    # (the stream consumer has applied the events already), then loaded like the others.
    Stage("ingest", "ingestion.close_stream_day", then="transform",
          retailers=frozenset({"retailer4"})),
    Stage("transform", "transformation.load_partition", then="quality"),
    Stage("quality", "quality.run_checks", then=VERDICT, run_wide=True),
)

# Ingestion's task that starts a backfill's waiting dates in its free slots (its own
# settings decide how many): sent after the verdict of a backfill's run, and by beat.
ADVANCE_BACKFILLS = "ingestion.advance_backfills"

# Where each kind of run starts: a replay re-transforms stored silver, it ingests nothing.
FIRST_STEP = {"ingest": "ingest", "replay": "transform"}


class UnknownStage(LookupError):
    """No line of the stage table serves this step (or task)."""


def stage_of(step: str, retailer_id: str = RUN_WIDE,
             table: Sequence[Stage] | None = None) -> Stage:
    """The line that serves a retailer's step: its own line if it has one, else the
    line for everyone."""
    general = None
    for stage in STAGES if table is None else table:
        if stage.step != step:
            continue
        if stage.retailers is None:
            general = general or stage
        elif retailer_id in stage.retailers:
            return stage
    if general is None:
        raise UnknownStage(f"no stage {step!r} for {retailer_id}")
    return general


def stage_of_task(task: str, table: Sequence[Stage] | None = None) -> Stage:
    """The line whose work a Celery task does."""
    for stage in STAGES if table is None else table:
        if stage.task == task:
            return stage
    raise UnknownStage(f"no stage is done by task {task!r}")


def partition_steps(retailer_id: str, kind: str = "ingest",
                    table: Sequence[Stage] | None = None) -> list[str]:
    """A retailer's steps in a run of `kind`, in order: from the kind's first step along
    `then` up to (not including) the first run-wide stage."""
    steps: list[str] = []
    step = FIRST_STEP[kind]
    while step != VERDICT:
        stage = stage_of(step, retailer_id, table)
        if stage.run_wide or step in steps:
            break
        steps.append(step)
        step = stage.then
    return steps


def run_wide_steps(table: Sequence[Stage] | None = None) -> list[str]:
    """The run-wide steps every run has, in table order."""
    return list(dict.fromkeys(s.step for s in (STAGES if table is None else table)
                              if s.run_wide))
