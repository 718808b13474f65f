"""PostgreSQL, Redis and NATS (JetStream) for local use: reuse the ones answering, else
start private ones.

A private server lives under `.data/` and is started from the binaries installed on the
machine; `.data/run/<name>.pid` records that we started it, so `make down` stops exactly
what `make up` started and never a server it found running.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

from suite.processes import DATA_DIR, ManagedProcess, port_open

DATA = DATA_DIR
RUN = DATA / "run"


def pg_bin(tool: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {tool} is not installed (apt-get install postgresql)")
    return candidates[0]


def ensure_postgres(port: int = 5432) -> str:
    """Returns 'reused' or 'started'."""
    if port_open(port):
        return "reused"
    pgdata = DATA / "pg"
    sock = DATA / "pg-sock"
    sock.mkdir(parents=True, exist_ok=True)
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run([pg_bin("initdb"), "-D", str(pgdata), "-U", "postgres", "-A", "trust",
                        "--no-sync"], check=True, capture_output=True)
    log = DATA / "logs" / "postgres.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([pg_bin("pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-o",
                    f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=on "
                    "-c max_wal_size=4GB", "start"], check=True, capture_output=True)
    RUN.mkdir(parents=True, exist_ok=True)
    (RUN / "postgres.owned").write_text(str(pgdata))
    return "started"


def stop_postgres() -> bool:
    owned = RUN / "postgres.owned"
    if not owned.exists():
        return False
    subprocess.run([pg_bin("pg_ctl"), "-D", owned.read_text().strip(), "-m", "fast", "-w",
                    "stop"], capture_output=True)
    owned.unlink()
    return True


def redis_process(port: int = 6379) -> ManagedProcess:
    return ManagedProcess(
        "redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                  "--appendonly", "no", "--dir", str(DATA)], port=port)


def ensure_redis(port: int = 6379) -> tuple[str, ManagedProcess | None]:
    if port_open(port):
        return "reused", None
    if not shutil.which("redis-server"):
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    proc = redis_process(port).start()
    proc.wait_healthy(20)
    return "started", proc


def nats_process(port: int = 4222) -> ManagedProcess:
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    store = DATA / "nats"
    store.mkdir(parents=True, exist_ok=True)
    return ManagedProcess("nats", [binary, "-js", "-a", "127.0.0.1", "-p", str(port),
                                   "-sd", str(store)], port=port)


def ensure_nats(port: int = 4222) -> tuple[str, ManagedProcess | None]:
    """NATS with JetStream on `port`: reused when it answers, else a private one whose
    stream store lives under .data/nats (retailer4's events survive `down` and `up`)."""
    if port_open(port):
        return "reused", None
    if not (shutil.which("nats-server") or Path("/usr/sbin/nats-server").exists()):
        raise RuntimeError("nats-server is not installed (apt-get install nats-server)")
    proc = nats_process(port).start()
    proc.wait_healthy(20)
    return "started", proc


def ensure_servers() -> dict[str, str]:
    """Make sure PostgreSQL, Redis and NATS answer (used by `make test`)."""
    pg = ensure_postgres()
    redis, proc = ensure_redis()
    if proc is not None and proc.proc is not None:
        RUN.mkdir(parents=True, exist_ok=True)
        (RUN / "redis.pid").write_text(str(proc.proc.pid))
    nats, nproc = ensure_nats()
    if nproc is not None and nproc.proc is not None:
        RUN.mkdir(parents=True, exist_ok=True)
        (RUN / "nats.pid").write_text(str(nproc.proc.pid))
    return {"postgres": pg, "redis": redis, "nats": nats}


if __name__ == "__main__":
    for name, how in ensure_servers().items():
        print(f"{name}: {how}")
