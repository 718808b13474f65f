"""The local stack's supervisor: restarts a process of `retail up` that died.

Compose restarts a container that exits (`restart: unless-stopped`); without Docker this
process does the same for the stack. `retail up` starts it last and `retail down` stops it
first, so it never restarts what `down` is stopping. Every SUPERVISOR_INTERVAL it looks at
each service's pid file (`.data/run/<name>.pid`); a process that is gone (or a zombie) is
started again with the same command, its new pid written to the file, and a line logged.
A process that keeps dying waits longer between restarts (1 s doubling to 60 s, reset
after a minute up), as compose backs off.

Run: `python -m suite.supervisor` (by `retail up`; it logs to `.data/logs/supervisor.log`).
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from suite.processes import ManagedProcess

log = logging.getLogger("supervisor")

INTERVAL = 1.0
MAX_BACKOFF = 60.0
STABLE_SECONDS = 60.0


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, dead but not reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class Watched:
    name: str
    backoff: float = 1.0
    next_start: float = 0.0
    started_at: float = 0.0
    restarts: int = 0
    proc: ManagedProcess | None = None  # set once this supervisor started it


class Supervisor:
    def __init__(self) -> None:
        from suite import stack
        from suite.settings import load_stack_or_exit

        self.stack = stack
        self.settings = load_stack_or_exit()
        self.watched = {svc.name: Watched(svc.name) for svc in stack.services(self.settings)}
        self.stopping = False

    def check_once(self, now: float) -> list[str]:
        """One look at every service; returns the names restarted."""
        restarted = []
        for svc in self.stack.services(self.settings):
            w = self.watched.setdefault(svc.name, Watched(svc.name))
            pidfile = self.stack.RUN_DIR / f"{svc.name}.pid"
            if not pidfile.exists():
                continue  # not started by `up` (or being stopped by `down`)
            if w.proc is not None and w.proc.proc is not None:
                w.proc.proc.poll()  # reap our own child, so it does not linger as a zombie
            pid = int(pidfile.read_text().strip() or 0)
            if pid and alive(pid):
                if w.started_at and now - w.started_at > STABLE_SECONDS:
                    w.backoff = 1.0
                continue
            if now < w.next_start:
                continue
            proc = svc.process().start()
            assert proc.proc is not None
            pidfile.write_text(str(proc.proc.pid))
            w.proc, w.started_at, w.restarts = proc, now, w.restarts + 1
            w.next_start = now + w.backoff
            w.backoff = min(MAX_BACKOFF, w.backoff * 2)
            log.warning("%s (pid %s) was gone; restarted as pid %s (restart %s)",
                        svc.name, pid, proc.proc.pid, w.restarts)
            restarted.append(svc.name)
        return restarted

    def run(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("watching %s", ", ".join(sorted(self.watched)))
        while not self.stopping:
            self.check_once(time.monotonic())
            time.sleep(INTERVAL)
        log.info("stopped")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    Supervisor().run()


if __name__ == "__main__":
    main()
