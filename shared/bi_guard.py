"""Enforce bi_reader's statement limit from the server side.

PostgreSQL 15 cannot stop a role from lifting its own `statement_timeout` (`set
statement_timeout = 0`, or `alter role bi_reader set ...` on itself). The database function
`ops.enforce_bi_reader` (database/init/95_bi_guard.sql) does what the role cannot undo:
it cancels bi_reader statements running past the limit, ends its transactions left open
past it, and restores the role's defaults. The scheduler calls it every few seconds
(`ingestion.guard_bi_reader`), so the limit holds to within that interval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardPass:
    """What one pass of the guard did."""

    canceled: int            # statements cancelled for running past the limit
    terminated: int          # sessions ended for holding a transaction open past it
    defaults_restored: bool  # bi_reader had changed its own role defaults


def enforce_bi_reader(conn: Connection, limit_seconds: int) -> GuardPass:
    """One pass of the guard.

    Args:
        conn: a connection of the pipeline role (it may execute the function).
        limit_seconds: how long a bi_reader statement (or open transaction) may last.
    Returns:
        What the pass did; anything it did is also logged.
    """
    row = conn.execute(text("select canceled, terminated, defaults_restored "
                            "from ops.enforce_bi_reader(:s)"), {"s": limit_seconds}).one()
    done = GuardPass(int(row.canceled), int(row.terminated), bool(row.defaults_restored))
    if done.canceled or done.terminated or done.defaults_restored:
        log.warning("bi_reader guard: %s statements cancelled, %s sessions ended past %ss; "
                    "role defaults restored: %s", done.canceled, done.terminated,
                    limit_seconds, done.defaults_restored)
    return done
