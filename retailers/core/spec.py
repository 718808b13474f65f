"""What a retailer package declares: the small part that really differs between them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Blueprint, Request

    from retailers.core.context import RetailerContext
    from retailers.core.pgcopy import CopyTable
    from retailers.generator.frames import DayData
    from retailers.generator.profile import RetailerProfile


@dataclass(frozen=True)
class Storage:
    """How the generator's neutral data becomes this retailer's tables.

    Attributes:
        master: statements filling stores, products, prices and customers from the `stg_*`
            master staging tables (run once per seed, after the tables were emptied).
        day_tables: maps one date's DayData (and the seed) to rows for the retailer's own
            order, line and event tables, written with binary COPY.
        delete_day: statements deleting one date's orders, lines and events, given the
            order-number range `%(lo)s <= order_no < %(hi)s`.
    """

    master: str
    day_tables: Callable[[DayData, int], list[CopyTable]]
    delete_day: str


@dataclass(frozen=True)
class RetailerSpec:
    """One retailer: its identity, data shape, storage mapping, auth and routes."""

    retailer_id: str
    name: str
    profile: RetailerProfile
    schema_sql: Path
    storage: Storage
    # The data endpoints: every request passes `authenticate` and then the chaos layer.
    routes: Callable[[], Blueprint]
    authenticate: Callable[[Request, RetailerContext], None]
    # Endpoints outside auth and chaos (retailer3's token endpoint).
    public_routes: Callable[[], Blueprint] | None = None
    # The session time zone of the API's database connections (timestamps are rendered by
    # PostgreSQL in it).
    session_timezone: str = "UTC"
