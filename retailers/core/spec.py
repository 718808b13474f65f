"""What a retailer package declares: the small part that really differs between them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Blueprint, Request

    from retailers.core.context import RetailerContext
    from retailers.generator.profile import RetailerProfile


@dataclass(frozen=True)
class LoadSql:
    """How the generator's neutral staging tables become this retailer's tables.

    Attributes:
        master: statements filling stores, products, prices, customers from `stg_*` master
            tables (run after the retailer's tables were emptied).
        day: statements filling orders, lines and events from `stg_order`, `stg_line`,
            `stg_event`; may use the `%(seed)s` parameter.
        delete_day: statements deleting one date's orders, lines and events, given the
            order-number range `%(lo)s <= order_no < %(hi)s`.
    """

    master: str
    day: str
    delete_day: str


@dataclass(frozen=True)
class RetailerSpec:
    """One retailer: its identity, data shape, storage mapping, auth and routes."""

    retailer_id: str
    name: str
    profile: RetailerProfile
    schema_sql: Path
    load: LoadSql
    # The data endpoints: every request passes `authenticate` and then the chaos layer.
    routes: Callable[[], Blueprint]
    authenticate: Callable[[Request, RetailerContext], None]
    # Endpoints outside auth and chaos (retailer3's token endpoint).
    public_routes: Callable[[], Blueprint] | None = None
    # The session time zone of the API's database connections (timestamps are rendered by
    # PostgreSQL in it).
    session_timezone: str = "UTC"
