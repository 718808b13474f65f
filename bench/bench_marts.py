"""Marts refresh benchmark: the SQL models against the plpgsql function they replaced.

    .venv/bin/python -m bench.bench_marts --lines 1000000

The marts used to be one plpgsql function, `marts.refresh(dates, retailers)`, in
`database/init/50_marts.sql` up to commit REFERENCE_COMMIT; they are now one `select` per
mart composed by `services/transformation/marts.py`. Both are measured in one run, on the
same day (bench_load's generated lines, three retailers), where a refresh matters: inside
the load transaction, right after the partition's facts were written (so the planner's
statistics do not know them yet). Each round loads the three partitions one after another
into an emptied warehouse twice, once per implementation, in alternating order; the figure
is the loads' summed `marts_seconds`, medians over the rounds. After each load the marts'
contents are fingerprinted: both implementations must give the same rows.

The reference function is read from git history (`git show`), never kept in the tree, and
created in a schema of the benchmark database only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.bench_load import (
    RETAILERS,
    ROOT,
    Day,
    bench_stack,
    land,
    measure_load,
    median,
)

REFERENCE_COMMIT = "868e07e^"
REFERENCE_FILE = "database/init/50_marts.sql"
REFERENCE_SCHEMA = "bench_reference"


def reference_function() -> str:
    """The plpgsql `marts.refresh` as it was, renamed into the benchmark's own schema."""
    try:
        text = subprocess.run(["git", "show", f"{REFERENCE_COMMIT}:{REFERENCE_FILE}"],
                              cwd=ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"bench_marts needs the git history of {REFERENCE_COMMIT}: {exc}") from exc
    start = text.index("create or replace function marts.refresh(")
    end = text.index("$$;", start) + 3
    body = text[start:end]
    return re.sub(r"^create or replace function marts\.refresh\(",
                  f"create or replace function {REFERENCE_SCHEMA}.refresh(", body)


def install_reference(engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(f"create schema if not exists {REFERENCE_SCHEMA}"))
        conn.exec_driver_sql(reference_function())


@contextmanager
def reference_refresh() -> Iterator[None]:
    """Loads in this process refresh their marts with the reference function."""
    import services.transformation.marts as marts

    def refresh(cur, dates, retailers=None) -> float:
        started = time.perf_counter()
        cur.execute(f"select {REFERENCE_SCHEMA}.refresh(%s::date[], %s::text[])",
                    (sorted(set(dates)), list(retailers) if retailers else None))
        return time.perf_counter() - started

    models = marts.refresh
    marts.refresh = refresh
    try:
        yield
    finally:
        marts.refresh = models


def fingerprint() -> dict[str, str]:
    """Each mart's rows (but `refreshed_at`) as one digest."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    import services.transformation.marts as marts
    from services.transformation.db import psycopg3_url

    digests = {}
    url = make_url(psycopg3_url(os.environ["DATABASE_URL"])).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        cur = conn.cursor()
        names = marts.mart_names()
        columns = marts.mart_columns(cur, names)
        for name in names:
            row = sql.SQL("row({})::text").format(
                sql.SQL(", ").join(map(sql.Identifier, columns[name].columns)))
            query = sql.SQL("select count(*) || ':' || coalesce(md5(string_agg(r, '|' "
                            "order by r)), '') from (select {} as r from {}) t").format(
                row, sql.Identifier("marts", name))
            digests[name] = cur.execute(query).fetchone()[0]
    return digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=300_000, help="order lines in the day")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each loads twice)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    with bench_stack():
        from shared.db import make_engine
        from shared.s3 import get_s3
        from shared.settings import S3Settings, current

        engine = make_engine(os.environ["DATABASE_URL"], application_name="bench-marts")
        s3, bucket = get_s3(), current(S3Settings).s3_bucket
        install_reference(engine)
        days = [Day(r, args.lines // len(RETAILERS) + (i < args.lines % len(RETAILERS)),
                    seed=i) for i, r in enumerate(RETAILERS)]
        for d in days:
            d.generate()
            d.fact_rows = []
            land(d, engine, s3, bucket)

        seconds: dict[str, list[float]] = {"models": [], "plpgsql": []}
        digests: dict[str, dict[str, str]] = {}
        for i in range(args.repeat):
            order = ("models", "plpgsql") if i % 2 == 0 else ("plpgsql", "models")
            for variant in order:
                if variant == "plpgsql":
                    with reference_refresh():
                        timing = measure_load(engine, workers=1)
                else:
                    timing = measure_load(engine, workers=1)
                seconds[variant].append(timing.marts_seconds)
                digest = fingerprint()
                if digests.setdefault(variant, digest) != digest:
                    raise SystemExit(f"{variant}: the marts differ between rounds")
            print(f"round {i + 1}: models {seconds['models'][-1]:.2f}s, "
                  f"plpgsql {seconds['plpgsql'][-1]:.2f}s")
        if digests["models"] != digests["plpgsql"]:
            differ = [m for m in digests["models"] if digests["models"][m]
                      != digests["plpgsql"].get(m)]
            raise SystemExit(f"the two implementations give different marts: {differ}")

        result = {"lines": args.lines, "repeat": args.repeat,
                  "models_seconds": round(median(seconds["models"]), 3),
                  "plpgsql_seconds": round(median(seconds["plpgsql"]), 3),
                  "runs": {k: [round(v, 3) for v in vs] for k, vs in seconds.items()}}
        result["models_over_plpgsql"] = round(
            result["models_seconds"] / result["plpgsql_seconds"], 3)
        print(f"\nmarts refresh inside the loads of {args.lines:,} lines (3 retailers, "
              f"medians of {args.repeat}): models {result['models_seconds']:.2f}s, "
              f"plpgsql {result['plpgsql_seconds']:.2f}s, ratio "
              f"{result['models_over_plpgsql']:.2f}; same marts: yes")
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
