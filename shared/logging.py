"""Structured logging: JSON lines in containers, readable lines locally, `run_id` on each.

`bind(run_id=...)` puts values into a context variable; a filter copies them onto every
record logged in that context (threads and Celery tasks included), so every line of a run
carries its run id without passing it around.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None
)


def _current() -> dict[str, Any]:
    return _context.get() or {}
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def set_context(**values: Any) -> None:
    """Replace the bound values for the rest of this context (a Celery task's start)."""
    _context.set({k: v for k, v in values.items() if v is not None})


@contextmanager
def bind(**values: Any) -> Iterator[None]:
    """Attach `values` (e.g. run_id, retailer_id) to every log line inside the block."""
    fresh = {k: v for k, v in values.items() if v is not None}
    token = _context.set({**_current(), **fresh})
    try:
        yield
    finally:
        _context.reset(token)


def bound() -> dict[str, Any]:
    """The values bound in the current context."""
    return dict(_current())


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(_extras(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += f"  [{extras}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Install the suite's handler on the root logger (idempotent)."""
    if fmt is None or level is None:
        try:
            from shared.settings import LoggingSettings, current

            s = current(LoggingSettings)
            fmt, level = fmt or s.log_format, level or s.log_level
        except Exception:  # settings errors are reported by the caller, not here
            fmt, level = fmt or "console", level or "INFO"
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_retail", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._retail = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
