"""A private PostgreSQL for the benchmarks, configured as a warehouse server would be.

The machine's PostgreSQL is shared with the tests and keeps Debian's defaults
(`shared_buffers` 128 MB, `max_wal_size` 1 GB): a 1M-line load there checkpoints several
times and writes full-page images after each checkpoint. `--postgres private` runs the
benchmark's databases (warehouse and retailers) on a server of its own under
`.data/bench/pg` instead, with the settings below, so the figures say what the suite does on
a server sized for it. Durability is kept as in production: fsync and synchronous commit
stay on.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from suite.processes import port_open
from suite.servers import pg_bin

# For a 2-core, 24 GiB machine whose main job is the warehouse (PGTune-style proportions:
# a quarter of memory as shared buffers, WAL sized so that a day's load does not force a
# checkpoint).
PRODUCTION_SETTINGS = {
    "shared_buffers": "4GB",
    "effective_cache_size": "12GB",
    "maintenance_work_mem": "1GB",
    "work_mem": "64MB",
    "wal_buffers": "64MB",
    "max_wal_size": "16GB",
    "min_wal_size": "2GB",
    "checkpoint_timeout": "30min",
    "checkpoint_completion_target": "0.9",
    "wal_compression": "lz4",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_connections": "200",
    "jit": "off",
}
# Only for a statement profile (`bench.run --statements`): costs the server a little per query.
STATEMENTS_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "10000",
}
PORT = 25432


def _has_statements(url: str) -> bool:
    import psycopg

    with psycopg.connect(url + "/postgres") as conn:
        return "pg_stat_statements" in (conn.execute("show shared_preload_libraries")
                                        .fetchone()[0] or "")


def _as_postgres_user() -> list[str]:
    """initdb and the server refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise SystemExit("running as root needs a `postgres` user for the private server") from exc
    return [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"]


def start(data_dir: Path, port: int = PORT, *, statements: bool = False) -> str:
    """Start (initializing when new) the private server; returns its base URL.

    `statements` loads pg_stat_statements, so a run can say which statements the server's
    time went to (a server already running is restarted to load it)."""
    url = f"postgresql://postgres@127.0.0.1:{port}"
    if port_open(port):
        if not statements or _has_statements(url):
            return url
        stop(data_dir)
    pgdata, sock = data_dir / "pg", data_dir / "pg-sock"
    sock.mkdir(parents=True, exist_ok=True)
    pgdata.mkdir(parents=True, exist_ok=True)
    prefix = _as_postgres_user()
    if prefix:
        shutil.chown(pgdata, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        pgdata.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run([*prefix, pg_bin("initdb"), "-D", str(pgdata), "-U", "postgres",
                        "-A", "trust", "--no-sync"], check=True, capture_output=True)
    settings = dict(PRODUCTION_SETTINGS)
    if statements:
        settings.update(STATEMENTS_SETTINGS)
    options = " ".join(f"-c {k}={v}" for k, v in settings.items())
    log = data_dir / "pg.log"
    log.touch()
    if prefix:
        shutil.chown(log, "postgres", "postgres")
    subprocess.run([*prefix, pg_bin("pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-o",
                    f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 {options}", "start"],
                   check=True, capture_output=True)
    return url


def stop(data_dir: Path) -> None:
    """Stop the private server (its data stays for the next benchmark)."""
    pgdata = data_dir / "pg"
    if (pgdata / "postmaster.pid").exists():
        subprocess.run([*_as_postgres_user(), pg_bin("pg_ctl"), "-D", str(pgdata), "-m",
                        "fast", "-w", "stop"], capture_output=True)
