"""The normalization engine every adapter builds on.

A Normalizer turns one partition's pages into canonical records, page by page. It owns the
bookkeeping so that adapters only map fields:
- every record received is either emitted (normalized) or rejected with a RejectReason, and
  the counts say so per entity (`received == normalized + rejected`, by construction);
- fields a retailer sends that the adapter does not know are counted per `resource.field`
  (they end up in the manifest's `unknown_fields`, nothing is dropped silently);
- the order lines of orders created on the day are tallied the way a retailer computes its
  control totals (a line served twice counted once), for reconciliation.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.canonical import ENTITIES, InvalidRecord, RejectReason, money, money_to_cents

if TYPE_CHECKING:  # connectors import this module; a type-only import avoids the cycle
    from services.ingestion.connectors.base import Page

Record = dict[str, Any]
Handler = Callable[[list[Any]], None]


@dataclass
class EntityCounts:
    received: int = 0
    normalized: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"received": self.received, "normalized": self.normalized,
                "rejected": self.rejected}


@dataclass
class Batch:
    """What one page normalized into: canonical records per entity, and rejections."""

    silver: dict[str, list[Record]] = field(default_factory=dict)
    rejected: list[Record] = field(default_factory=list)


@dataclass
class ControlTally:
    """Order lines of orders created on the day, counted as the retailer counts them."""

    line_count: int = 0
    cents: int = 0
    duplicate_lines: int = 0
    # A line served twice is served within its order, and the retailers serve an order's
    # lines together (retailer1 and retailer3 sort by order and line, retailer2 nests
    # them), so remembering the current order's lines is enough: memory stays constant
    # however large the day is.
    _order_id: str | None = None
    _seen: set[Any] = field(default_factory=set)

    def add(self, order_id: str, line_number: Any, cents: int | None, on_day: bool) -> bool:
        """Count one served line (`cents`: its total, None when unreadable); False when it
        repeats a line of the same order."""
        if order_id != self._order_id:
            self._order_id = order_id
            self._seen = set()
        if line_number.__class__ not in (int, str):
            line_number = repr(line_number)  # hashable whatever the retailer sent
        if line_number in self._seen:
            self.duplicate_lines += 1
            return False
        self._seen.add(line_number)
        if on_day:
            self.line_count += 1
            if cents is not None:
                self.cents += cents
        return True


def as_invalid(exc: Exception) -> InvalidRecord:
    """Any failure while mapping a record as an InvalidRecord (a shape we did not expect)."""
    if isinstance(exc, InvalidRecord):
        return exc
    return InvalidRecord(RejectReason.MALFORMED_RECORD, f"{type(exc).__name__}: {exc}")


class Normalizer(ABC):
    """Per-partition state for turning pages into canonical records (subclass per retailer).

    Subclasses return their per-resource handlers from `handlers()`; a handler maps each
    record and calls `emit` or `reject`. `finish()` is called after the last page so a
    subclass can emit what it was still assembling (an order whose lines span pages).
    """

    retailer_id: str
    currency: str

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.day_text = day.isoformat()
        self.counts = {entity: EntityCounts() for entity in ENTITIES}
        self.unknown_fields: Counter[str] = Counter()
        self.rejected_cents: dict[str, int] = {}
        self.reasons: Counter[str] = Counter()
        self.control = ControlTally()
        self._silver: dict[str, list[Record]] = {}
        self._rejected: list[Record] = []
        self._handlers = self.handlers()

    # -- what a retailer provides ------------------------------------------------------------

    @abstractmethod
    def handlers(self) -> Mapping[str, Handler]:
        """The handler of each resource's records."""

    def flush(self) -> None:  # noqa: B027 - optional hook; most retailers assemble nothing
        """Emit whatever is still being assembled (called by `finish`)."""

    # -- driving ----------------------------------------------------------------------------

    def normalize(self, page: Page) -> Batch:
        """Normalize one page; returns its canonical records and rejections."""
        try:
            handler = self._handlers[page.resource]
        except KeyError:
            raise ValueError(f"{self.retailer_id} has no resource {page.resource!r}") from None
        handler(page.records)
        return self._take()

    def finish(self) -> Batch:
        """After the last page: the records still being assembled."""
        self.flush()
        return self._take()

    def normalize_all(self, pages: Iterable[Page]) -> Batch:
        """Every page at once (tests and small days): one merged Batch."""
        merged = Batch()
        for batch in [*(self.normalize(p) for p in pages), self.finish()]:
            for entity, records in batch.silver.items():
                merged.silver.setdefault(entity, []).extend(records)
            merged.rejected.extend(batch.rejected)
        return merged

    def _take(self) -> Batch:
        batch = Batch(self._silver, self._rejected)
        self._silver, self._rejected = {}, []
        return batch

    # -- helpers for handlers ----------------------------------------------------------------

    def emit(self, entity: str, record: Record) -> None:
        """One canonical record (fields in ENTITIES order)."""
        counts = self.counts[entity]
        counts.received += 1
        counts.normalized += 1
        bucket = self._silver.get(entity)
        if bucket is None:
            bucket = self._silver[entity] = []
        bucket.append(record)

    def reject(self, entity: str, exc: Exception, record: Any, record_key: str | None, *,
               amount: str | None = None, currency: str | None = None) -> None:
        """One record that could not be normalized, kept as received with its reason."""
        error = as_invalid(exc)
        counts = self.counts[entity]
        counts.received += 1
        counts.rejected += 1
        self.reasons[error.reason.value] += 1
        if amount is not None:
            self.rejected_cents[entity] = self.rejected_cents.get(entity, 0) + \
                money_to_cents(amount)
        self._rejected.append({
            "entity": entity, "reason": error.reason.value, "detail": error.detail,
            "field": error.field, "record_key": record_key, "amount": amount,
            "currency": (currency or self.currency) if amount is not None else currency,
            "record": record,
        })

    def note_fields(self, path: str, record: Mapping[str, Any], known: frozenset[str]) -> None:
        """Count the fields of `record` the adapter does not know, as `path.field`."""
        if not known.issuperset(record):
            for name in record:
                if name not in known:
                    self.unknown_fields[f"{path}.{name}"] += 1

    def map_each(self, entity: str, resource: str, records: list[Any],
                 known: frozenset[str], to_canonical: Callable[[Record], Record],
                 key_of: Callable[[Record], Any]) -> None:
        """The one-record-in, one-record-out case (stores, customers, products, events)."""
        for record in records:
            if not isinstance(record, dict):
                self.reject(entity, InvalidRecord(RejectReason.MALFORMED_RECORD,
                                                  "not a JSON object"), record, None)
                continue
            if not known.issuperset(record):  # the norm: no call at all
                self.note_fields(resource, record, known)
            try:
                canonical = to_canonical(record)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a rejection
                self.reject(entity, exc, record, _key_text(key_of(record)))
                continue
            self.emit(entity, canonical)


def readable_money(value: Any) -> str | None:
    """A money value when it can be read (for totals and reconciliation), else None."""
    try:
        return money(value)
    except InvalidRecord:
        return None


def _key_text(value: Any) -> str | None:
    return None if value is None else str(value)
