"""A retailer server's configuration, taken from its own settings (retailers/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RetailerConfig:
    """What one retailer's server needs.

    Attributes:
        retailer_id: `retailer1`, `retailer2` or `retailer3`.
        database_url: its own database.
        common: ServerCommonSettings (page cap, chaos at start, admin token, ...).
        own: its Retailer1Settings / Retailer2Settings / Retailer3Settings (credentials).
    """

    retailer_id: str
    database_url: str
    common: Any
    own: Any

    @classmethod
    def from_settings(cls, settings: Any) -> RetailerConfig:
        """From a retailer server's settings (`RetailerServerSettings`: `.retailer`, `.own`)."""
        return cls(settings.retailer_id, settings.own.database_url, settings.retailer,
                   settings.own)

    @property
    def max_page_size(self) -> int:
        return int(self.common.max_page_size)
