"""What a retailer package declares: the small part that really differs between them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Blueprint, Request

    from retailers.core.context import RetailerContext
    from retailers.core.pgcopy import CopyTable
    from retailers.generator.frames import DayData
    from retailers.generator.profile import RetailerProfile


@dataclass(frozen=True)
class DayBlock:
    """How a partitioned table's key follows the order numbers of a date.

    The orders of a date are numbers `lo <= n < hi`; the table's partition for that date
    holds keys from `lo * per_order` to `hi * per_order` (lines: 16 keys per order), or
    for text keys `prefix` + the number zero-padded to `digits`.
    """

    per_order: int = 1
    prefix: str | None = None
    digits: int = 0

    def bounds(self, lo: int, hi: int) -> tuple[int | str, int | str]:
        if self.prefix is None:
            return lo * self.per_order, hi * self.per_order
        return f"{self.prefix}{lo:0{self.digits}d}", f"{self.prefix}{hi:0{self.digits}d}"


@dataclass(frozen=True)
class Storage:
    """How the generator's neutral data becomes this retailer's tables.

    Attributes:
        master: statements filling stores, products, prices and customers from the `stg_*`
            master staging tables (run once per seed, after the tables were emptied).
        day_tables: maps one date's DayData (and the seed) to rows for the retailer's own
            order, line and event tables, written with binary COPY.
        partitions: each of those tables with how its daily partition's bounds follow the
            date's order numbers. Seeding a date replaces its partitions' contents.
    """

    master: str
    day_tables: Callable[[DayData, int], list[CopyTable]]
    partitions: Mapping[str, DayBlock]


@dataclass(frozen=True)
class RetailerSpec:
    """One retailer: its identity, data shape, storage mapping, auth and routes."""

    retailer_id: str
    name: str
    profile: RetailerProfile
    schema_sql: Traversable  # a file of the package (importlib.resources), so wheels carry it
    storage: Storage
    # The data endpoints: every request passes `authenticate` and then the chaos layer.
    routes: Callable[[], Blueprint]
    authenticate: Callable[[Request, RetailerContext], None]
    # Endpoints outside auth and chaos (retailer3's token endpoint).
    public_routes: Callable[[], Blueprint] | None = None
    # The session time zone of the API's database connections (timestamps are rendered by
    # PostgreSQL in it).
    session_timezone: str = "UTC"
