"""Planner statistics after a load.

Autovacuum analyzes a table only after its own threshold and naptime. Until then the
planner believes a freshly loaded table holds (almost) nothing, and the quality checks and
mart queries that run right after a first large load pick nested loops over tens of
thousands of rows (minutes instead of milliseconds). So a load that grew a table by a large
share analyzes it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from psycopg import sql
from sqlalchemy import Engine

from services.transformation.db import raw

log = logging.getLogger(__name__)

# Tables a load writes, whose statistics later queries depend on.
TABLES = ("fact_sales", "fact_orders", "dim_customer", "dim_product", "dim_store")
# Analyze when the rows a load inserted exceed this share of what the planner believes.
GROWTH_SHARE = 0.2


def stale_tables(estimates: Mapping[str, float], counts: Mapping[str, Any]) -> list[str]:
    """The tables whose inserted rows are large next to the planner's row estimate
    (`reltuples`; -1 or 0 for a table never analyzed)."""
    stale = []
    for table in TABLES:
        inserted = (counts.get(table) or {}).get("inserted", 0)
        believed = estimates.get(table, -1)
        if inserted and (believed <= 0 or inserted > GROWTH_SHARE * believed):
            stale.append(table)
    return stale


def refresh_statistics(engine: Engine, counts: Mapping[str, Any]) -> list[str]:
    """ANALYZE the warehouse tables this load grew by a large share; returns them."""
    with engine.begin() as conn:
        cur = raw(conn).cursor()
        cur.execute("select c.relname, c.reltuples from pg_class c "
                    "join pg_namespace n on n.oid = c.relnamespace "
                    "where n.nspname = 'warehouse' and c.relname = any(%s)", (list(TABLES),))
        tables = stale_tables(dict(cur.fetchall()), counts)
        for table in tables:
            cur.execute(sql.SQL("analyze {}.{}").format(sql.Identifier("warehouse"),
                                                        sql.Identifier(table)))
    if tables:
        log.info("analyzed %s", ", ".join(tables))
    return tables
