"""One client per retailer behind the RetailerClient interface; `make_client` picks it."""

from __future__ import annotations

from typing import Any

from services.ingestion.connectors.base import (
    ControlTotals,
    Page,
    RetailerClient,
    RetailerError,
    RetailerRejectedRequest,
    RetailerUnavailable,
)
from services.ingestion.connectors.retailer1 import Retailer1Client
from services.ingestion.connectors.retailer2 import Retailer2Client
from services.ingestion.connectors.retailer3 import Retailer3Client
from services.ingestion.settings import IngestionWorkerSettings, get_worker_settings

CLIENTS: dict[str, type[RetailerClient]] = {
    cls.retailer_id: cls for cls in (Retailer1Client, Retailer2Client, Retailer3Client)
}


def make_client(retailer_id: str, settings: IngestionWorkerSettings | None = None,
                **kwargs: Any) -> RetailerClient:
    """The client of `retailer_id`, configured from its settings section.

    Args:
        retailer_id: `retailer1`, `retailer2` or `retailer3`.
        settings: the worker's settings (default: the process's).
        kwargs: passed to the client (`transport=` for tests).
    """
    s = settings or get_worker_settings()
    try:
        cls = CLIENTS[retailer_id]
    except KeyError:
        raise ValueError(f"unknown retailer {retailer_id!r}") from None
    return cls(getattr(s, retailer_id), s.ingestion, **kwargs)


__all__ = ["CLIENTS", "ControlTotals", "Page", "RetailerClient", "RetailerError",
           "RetailerRejectedRequest", "RetailerUnavailable", "make_client"]
