"""Which statements PostgreSQL's time went to in one benchmark run (pg_stat_statements on
the private server, `bench.run --statements`): the profile that says where a load's server
CPU goes, grouped by normalized statement."""

from __future__ import annotations

import psycopg

# The server's time is a statement's execution plus its planning; `rows` and buffer hits
# tell a statement that writes many rows from one that reads them.
_TOP = """
select d.datname as database, s.calls, s.rows,
       round((s.total_exec_time + s.total_plan_time)::numeric / 1000, 3) as seconds,
       s.shared_blks_hit + s.shared_blks_read as buffers,
       s.wal_bytes::bigint as wal_bytes,
       left(regexp_replace(s.query, '\\s+', ' ', 'g'), %(width)s) as query
from pg_stat_statements s join pg_database d on d.oid = s.dbid
where d.datname = any(%(databases)s)
order by s.total_exec_time + s.total_plan_time desc
limit %(limit)s
"""


def reset(url: str) -> None:
    """Forget what earlier statements cost (the extension is created when missing)."""
    with psycopg.connect(url + "/postgres", autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        conn.execute("select pg_stat_statements_reset()")


def top(url: str, databases: list[str], limit: int = 40, width: int = 160) -> dict:
    """The costliest statements of `databases` since `reset`, and the total they add up to."""
    with psycopg.connect(url + "/postgres") as conn:
        per_database = {name: round(float(seconds), 2) for name, seconds in conn.execute(
            "select d.datname, sum(total_exec_time + total_plan_time) / 1000 "
            "from pg_stat_statements s join pg_database d on d.oid = s.dbid "
            "where d.datname = any(%s) group by d.datname", (databases,)).fetchall()}
        cur = conn.execute(_TOP, {"databases": databases, "limit": limit, "width": width})
        names = [c.name for c in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for row in rows:
        row["seconds"] = float(row["seconds"])
    return {"total_seconds": round(sum(per_database.values()), 2),
            "per_database_seconds": per_database, "statements": rows}


def report(profile: dict, lines: int) -> None:
    """Print the profile, costliest first, in seconds per million lines."""
    scale = 1_000_000 / max(lines, 1)
    print(f"  server time in statements: {profile['total_seconds'] * scale:.1f} s per million "
          "lines (" + ", ".join(f"{name} {seconds * scale:.1f}" for name, seconds
                                in sorted(profile["per_database_seconds"].items())) +
          "); costliest:", flush=True)
    for row in profile["statements"]:
        print(f"    {row['seconds'] * scale:7.2f} s/M  {row['calls']:>6} calls "
              f"{row['rows']:>9} rows  [{row['database']}] {row['query']}", flush=True)
