"""The sweeper: re-send lost or abandoned steps, dead-letter the hopeless ones.

Runs from Celery beat every SWEEPER_INTERVAL_SECONDS (task `ingestion.sweep`) and from
`retail sweep`. All decisions are taken in SQL under row locks (`shared.ops.sweep`);
messages go out only after that transaction commits.
"""

from __future__ import annotations

import logging

from shared import ops
from shared.db import transaction
from shared.settings import StepSettings, current

log = logging.getLogger(__name__)


def sweep_once(settings: StepSettings | None = None, celery_app=None) -> list[ops.StepRef]:
    """One pass. A step queued longer than a lease counts as lost.

    Returns:
        The steps re-sent (including quality steps of runs that can now get a verdict).
    """
    s = settings or current(StepSettings)
    with transaction() as conn:
        refs = ops.sweep(conn, stale_queued_seconds=s.step_lease_seconds)
    ops.send_steps(refs, celery_app)
    for ref in refs:
        log.warning("re-sent %s step of %s", ref.step, ref.retailer_id,
                    extra={"run_id": ref.run_id, "run_date": str(ref.run_date)})
    return refs
