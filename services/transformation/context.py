"""What every step of one partition's load shares: the cursor, the keys, the counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

Query = str | sql.SQL | sql.Composed


@dataclass
class LoadContext:
    """One partition's load, inside its one transaction.

    `params` are bound into every statement by name (`%(run_id)s`, `%(retailer_key)s`,
    ...), so the SQL of the load reads the same everywhere.
    """

    cur: psycopg.Cursor
    run_id: str
    retailer_id: str
    retailer_key: int
    run_date: dt.date
    counts: dict[str, Any] = field(default_factory=dict)
    touched_dates: set[dt.date] = field(default_factory=set)

    @property
    def params(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "retailer_id": self.retailer_id,
                "retailer_key": self.retailer_key, "run_date": self.run_date}

    def execute(self, query: Query, extra: dict[str, Any] | None = None) -> psycopg.Cursor:
        return self.cur.execute(query, {**self.params, **(extra or {})})

    def rows(self, query: Query, extra: dict[str, Any] | None = None) -> list[tuple]:
        return self.execute(query, extra).fetchall()

    def one(self, query: Query, extra: dict[str, Any] | None = None) -> tuple:
        """The single row a statement returns (aggregates, counts)."""
        row = self.execute(query, extra).fetchone()
        if row is None:
            raise LookupError("the statement returned no row")
        return tuple(row)

    def scalar(self, query: Query, extra: dict[str, Any] | None = None) -> Any:
        row = self.execute(query, extra).fetchone()
        return row[0] if row else None

    def touch(self, dates: Any) -> None:
        """Add order dates whose marts must be refreshed."""
        self.touched_dates.update(d for d in dates if d is not None)

    def count(self, table: str, inserted: int = 0, updated: int = 0, unchanged: int = 0,
              **extra: int) -> None:
        """Record a table's counts in the shape of docs/contracts.md."""
        self.counts[table] = {"inserted": int(inserted), "updated": int(updated),
                              "unchanged": max(int(unchanged), 0),
                              **{k: int(v) for k, v in extra.items()}}
