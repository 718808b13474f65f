"""Refresh the marts for a set of order dates by running their SQL models.

Each mart is one `select` in `database/marts/<mart>.sql`, the way dbt defines a model; the
table itself is created by `database/init/50_marts.sql`. The models read staging relations,
temporary tables built first from the facts of the refreshed dates and retailers
(`database/marts/staging/*.sql`, in the order of STAGING), so the large fact tables are
read once per refresh rather than once per mart.

For each mart the refresh restates the rows of the dates for the refreshed retailers and
'ALL', in one statement: a row the model gives is written only where it differs from the
stored one, and a restated row the model no longer gives is deleted. Most rows of a date a
load touched only through a few late status changes are unchanged, so a backfill (each date
touching the three weeks before it) rewrites little. The 'ALL' rows add the refreshed
retailers' fresh numbers to the other retailers' numbers as the marts hold them, so a load
refreshes only its own retailer. A model may also give other retailers' rows anew
(product_revenue re-ranks every retailer's products of the day): those replace the stored
ones where they differ. Everything happens in the caller's transaction: a load's facts and
its marts commit together.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from services.transformation.db import get_load_engine, raw

MODELS: Traversable = files("database") / "marts"


@dataclass(frozen=True)
class Staging:
    """A staging relation of the refresh: `database/marts/staging/<name>.sql`."""

    name: str
    # A load refreshes the marts right after writing the dates' facts, which the planner's
    # statistics do not count yet. Expecting a handful of rows, it joined 111k orders to
    # their customers one index probe at a time and sorted 333k lines to group them (1.0 s
    # in all); hashing both takes 0.4 s. So the statements that read the dates' facts are
    # planned without nested loops and sorts.
    hash_only: bool = False
    # Read by several marts: worth the statistics.
    analyze: bool = False


STAGING = (
    Staging("mart_orders", hash_only=True, analyze=True),
    Staging("mart_order_counts"),
    Staging("mart_sales", hash_only=True),
    Staging("mart_lines", analyze=True),
)

# The refreshed retailers, and the planner settings the staging changes for a while.
PRELUDE = """
select coalesce(array_agg(retailer_key), '{}'), coalesce(array_agg(retailer_id), '{}'),
       current_setting('enable_sort'), current_setting('enable_nestloop')
from warehouse.dim_retailer
where %(retailers)s::text[] is null or retailer_id = any(%(retailers)s::text[])
"""

PLANNER = """
select set_config('enable_sort', %(enable_sort)s, true),
       set_config('enable_nestloop', %(enable_nestloop)s, true)
"""

# Every mart's columns but the bookkeeping `refreshed_at`, in table order, and its primary
# key's columns.
COLUMNS = """
select c.relname::text, array_agg(a.attname::text order by a.attnum),
       (select array_agg(k.attname::text order by u.ord)
        from pg_constraint con
        cross join unnest(con.conkey) with ordinality as u(attnum, ord)
        join pg_attribute k on k.attrelid = c.oid and k.attnum = u.attnum
        where con.conrelid = c.oid and con.contype = 'p')
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = 'marts' and c.relkind = 'r' and c.relname = any(%(marts)s)
  and a.attname <> 'refreshed_at'
group by c.oid, c.relname
"""

# The model's rows written where they differ from the stored ones (`refreshed_at` then
# says when a row last changed), and the restated rows it no longer gives deleted. The
# delete and the upsert touch different rows, so one statement does both.
RESTATE = """
with model as materialized (
{model}
), gone as (
  delete from {mart} m
  where m.order_date = any(%(dates)s) and m.retailer_id = any(%(restated)s)
    and not exists (select 1 from model where ({model_key}) = ({stored_key}))
)
insert into {mart} as m ({columns})
select {columns} from model
on conflict on constraint {pk} do update set ({columns}) = row({excluded}),
  refreshed_at = now()
where ({stored}) is distinct from ({excluded})
"""


@cache
def model_sql(relative_path: str) -> str:
    """The text of a model file under database/marts (package data)."""
    return (MODELS / relative_path).read_text(encoding="utf-8")


def mart_names() -> list[str]:
    """The marts, one per `database/marts/<mart>.sql`, in name order."""
    return sorted(f.name.removesuffix(".sql") for f in MODELS.iterdir()
                  if f.is_file() and f.name.endswith(".sql"))


@dataclass(frozen=True)
class MartColumns:
    """A mart's columns but `refreshed_at` (table order), and its key's."""

    columns: list[str]
    key: list[str]


# Each mart's columns, read once per process: they change only with database/init, and
# the services restart after it.
_columns: dict[str, MartColumns] = {}


def mart_columns(cur: psycopg.Cursor, names: Sequence[str]) -> dict[str, MartColumns]:
    """The columns of the marts `names` (but `refreshed_at`) and of their keys."""
    if any(n not in _columns for n in names):
        for name, columns, key in cur.execute(COLUMNS, {"marts": list(names)}).fetchall():
            _columns[name] = MartColumns(list(columns), list(key or []))
    return _columns


def one(cur: psycopg.Cursor) -> tuple[Any, ...]:
    """The single row a statement returns."""
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return tuple(row)


def refresh(cur: psycopg.Cursor, dates: Iterable[dt.date],
            retailers: Sequence[str] | None = None) -> float:
    """Rebuild the marts for `dates` in the caller's transaction: the rows of `retailers`
    (default: all) and the 'ALL' rows. Returns the seconds taken."""
    started = time.perf_counter()
    days = sorted(set(dates))
    if not days:
        return 0.0
    keys, ids, enable_sort, enable_nestloop = one(cur.execute(
        PRELUDE, {"retailers": list(retailers) if retailers else None}))
    names = mart_names()
    columns = mart_columns(cur, names)
    params: dict[str, Any] = {"dates": days, "retailer_keys": keys, "restated": [*ids, "ALL"]}
    # Some twenty statements, sent without waiting for each answer: on a busy machine the
    # round trips cost more than a small day's refresh itself.
    with cur.connection.pipeline():
        # The 'ALL' rows of a date are shared by the loads of every retailer: two
        # refreshes must not interleave.
        cur.execute("select pg_advisory_xact_lock(hashtext('marts.refresh'))")
        cur.execute("set local jit = off")   # JIT compiles longer than these queries run
        for stage in STAGING:
            if stage.hash_only:
                cur.execute(PLANNER, {"enable_sort": "off", "enable_nestloop": "off"})
            cur.execute(sql.SQL("create temp table {} on commit drop as\n").format(
                sql.Identifier(stage.name)) + sql.SQL(model_sql(f"staging/{stage.name}.sql")),
                params)
            if stage.hash_only:
                cur.execute(PLANNER, {"enable_sort": enable_sort,
                                      "enable_nestloop": enable_nestloop})
            if stage.analyze:
                cur.execute(sql.SQL("analyze {}").format(sql.Identifier(stage.name)))
        for name in names:
            cur.execute(restate_model(name, columns[name]), params)
        cur.execute(sql.SQL("drop table {}").format(
            sql.SQL(", ").join(sql.Identifier(s.name) for s in STAGING)))
    return time.perf_counter() - started


def restate_model(name: str, mart: MartColumns) -> sql.Composed:
    """The statement that restates a mart's rows from its model (RESTATE)."""
    if not mart.key:
        raise LookupError(f"marts.{name} has no primary key")

    def listed(columns: Sequence[str], table: str | None = None) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(table, c) if table else sql.Identifier(c)
                                  for c in columns)

    return sql.SQL(RESTATE).format(
        mart=sql.Identifier("marts", name),
        columns=listed(mart.columns),
        model=sql.SQL(model_sql(f"{name}.sql")),
        pk=sql.Identifier(f"{name}_pk"),
        model_key=listed(mart.key, "model"), stored_key=listed(mart.key, "m"),
        excluded=listed(mart.columns, "excluded"), stored=listed(mart.columns, "m"))


def refresh_dates(dates: Iterable[dt.date], retailers: Sequence[str] | None = None,
                  engine: Engine | None = None) -> float:
    """Rebuild the marts for `dates` in a transaction of its own (operators, tests)."""
    with (engine or get_load_engine()).begin() as conn:
        return refresh(raw(conn).cursor(), dates, retailers)
