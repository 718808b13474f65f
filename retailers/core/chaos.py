"""The chaos layer: a share of 500s, 429s with Retry-After, slow answers, short-lived tokens.

Values start from RetailerCommonSettings and change at run time through POST /admin/chaos.
They live in the retailer's own database (`sim.chaos`), and every server worker re-reads
them at most once a second, so a change reaches all workers within about a second. Every
change bumps a version; each worker notes the version it read (`sim.chaos_reader`), so
`GET /admin/chaos` tells the oldest version any worker may still apply (`applied_version`)
and a client can wait for its change instead of sleeping a second.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from flask import Response

from retailers.core.database import Database
from retailers.core.errors import ApiError, bad_request
from retailers.core.responses import json_response

REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class ChaosSettings:
    """How badly a retailer behaves. Field names are the JSON names of /admin/chaos."""

    error_rate: float = 0.0       # share of data requests answered 500
    throttle_rate: float = 0.0    # share answered 429 with Retry-After
    retry_after: int = 1          # seconds, in the Retry-After header
    slow_rate: float = 0.0        # share answered after an extra delay
    slow_seconds: float = 0.0     # that delay
    token_ttl: int = 300          # lifetime of retailer3's tokens; lowering it expires
                                  # tokens already handed out ("early expiry")

    @classmethod
    def from_settings(cls, common) -> ChaosSettings:
        return cls(error_rate=common.error_rate, throttle_rate=common.throttle_rate,
                   retry_after=common.retry_after_seconds, slow_rate=common.slow_rate,
                   slow_seconds=common.slow_seconds, token_ttl=common.token_ttl_seconds)

    def updated(self, values: Mapping[str, Any]) -> ChaosSettings:
        """A copy with `values` applied and checked; ApiError(400) on a bad value."""
        if not isinstance(values, Mapping):
            raise bad_request("the body must be a JSON object")
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise bad_request(f"unknown chaos settings: {', '.join(unknown)}")
        clean: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad_request(f"{name} must be a number")
            clean[name] = value
        new = replace(self, **clean)
        new.validate()
        return replace(new, retry_after=int(new.retry_after), token_ttl=int(new.token_ttl))

    def validate(self) -> None:
        for name in ("error_rate", "throttle_rate", "slow_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad_request(f"{name} must be within 0..1")
        if self.error_rate + self.throttle_rate > 1:
            raise bad_request("error_rate + throttle_rate must not exceed 1")
        if not 0 <= self.retry_after <= 3600 or int(self.retry_after) != self.retry_after:
            raise bad_request("retry_after must be whole seconds within 0..3600")
        if not 0 <= self.slow_seconds <= 60:
            raise bad_request("slow_seconds must be within 0..60")
        if not 1 <= self.token_ttl <= 86_400 or int(self.token_ttl) != self.token_ttl:
            raise bad_request("token_ttl must be whole seconds within 1..86400")


@dataclass(frozen=True)
class Snapshot:
    """What a request needs from the control tables: chaos values and the data version."""

    chaos: ChaosSettings
    data_version: int
    chaos_version: int = 0


# The chaos version now, and the oldest one a worker of this server may still apply: a
# worker's copy younger than the refresh interval, else the current one (it re-reads).
APPLIED_VERSION = """
select c.version,
       coalesce(min(r.version) filter (
         where r.read_at > now() - make_interval(secs => %(refresh)s)), c.version)
from sim.chaos c
left join sim.chaos_reader r on r.boot_id = %(boot)s
where c.id = 1
group by c.version
"""


def server_boot_id() -> str:
    """Identifies this server start: the gunicorn master's pid and start time.

    Every worker of one `gunicorn` run shares it; a restarted server gets a new one. It
    lets the first worker apply the start-up chaos settings exactly once per server start.
    """
    ppid = os.getppid()
    try:
        with open(f"/proc/{ppid}/stat") as f:
            started = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "?"
    return f"{ppid}:{started}"


_COLUMNS = ", ".join(f.name for f in fields(ChaosSettings))


class RuntimeState:
    """The chaos values and data version, re-read from the database at most once a second."""

    def __init__(self, db: Database, startup: ChaosSettings, boot_id: str | None = None,
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._db = db
        self.startup = startup
        self._boot_id = boot_id or server_boot_id()
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._read_at = 0.0
        self._booted = False

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        with self._lock:
            if self._snapshot is None or now - self._read_at >= self._refresh:
                self._snapshot = self._read()
                self._read_at = now
            return self._snapshot

    def _read(self) -> Snapshot:
        if not self._booted:
            self._apply_startup()
        row = self._db.one(f"select {_COLUMNS}, g.data_version, c.version from sim.chaos c "
                           "cross join sim.generator g where c.id = 1 and g.id = 1")
        if row is None:
            raise ApiError(503, "unavailable", "control tables are empty; run `retailers init-db`")
        *values, data_version, chaos_version = row
        self._db.execute(
            "insert into sim.chaos_reader as r (boot_id, pid, version) "
            "values (%(boot)s, %(pid)s, %(version)s) "
            "on conflict (boot_id, pid) do update set version = excluded.version, "
            "read_at = now()",
            {"boot": self._boot_id, "pid": os.getpid(), "version": chaos_version})
        return Snapshot(ChaosSettings(*values), int(data_version), int(chaos_version))

    def _apply_startup(self) -> None:
        """Write the start-up settings once per server start (not per worker start)."""
        assignments = ", ".join(f"{name} = %({name})s" for name in asdict(self.startup))
        self._db.execute(
            f"update sim.chaos set {assignments}, boot_id = %(boot)s, version = version + 1, "
            "updated_at = now() "
            "where id = 1 and boot_id is distinct from %(boot)s",
            {**asdict(self.startup), "boot": self._boot_id})
        self._booted = True

    def set_chaos(self, chaos: ChaosSettings) -> ChaosSettings:
        """Store new values for every worker; this worker sees them at once."""
        self.snapshot()  # the start-up values are applied before a runtime change
        assignments = ", ".join(f"{name} = %({name})s" for name in asdict(chaos))
        self._db.execute(f"update sim.chaos set {assignments}, version = version + 1, "
                         "updated_at = now() where id = 1", asdict(chaos))
        with self._lock:
            self._snapshot = None
        return self.snapshot().chaos

    def status(self) -> dict[str, Any]:
        """What /admin/chaos shows: this worker's values, the current version, and the
        oldest version any worker of the server may still apply (`applied_version`)."""
        snapshot = self.snapshot()
        row = self._db.one(APPLIED_VERSION, {"refresh": self._refresh, "boot": self._boot_id})
        version, applied = row if row else (snapshot.chaos_version, snapshot.chaos_version)
        return {**asdict(snapshot.chaos), "version": int(version),
                "applied_version": int(applied)}


def chaos_response(chaos: ChaosSettings, draw=random.random) -> Response | None:
    """Maybe misbehave: sleep, then maybe answer 500 or 429. None means serve normally."""
    if chaos.slow_rate and draw() < chaos.slow_rate:
        time.sleep(chaos.slow_seconds)
    roll = draw()
    if roll < chaos.error_rate:
        return json_response({"error": "internal_error",
                              "detail": "simulated server failure (chaos)"}, 500)
    if roll < chaos.error_rate + chaos.throttle_rate:
        return json_response({"error": "rate_limited",
                              "detail": f"too many requests; retry after {chaos.retry_after}s"},
                             429, {"Retry-After": str(int(chaos.retry_after))})
    return None
