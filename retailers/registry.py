"""Find a retailer's spec by id (`retailer1`...), importing its package on demand."""

from __future__ import annotations

import importlib

from retailers.core.spec import RetailerSpec
from retailers.settings import RETAILER_IDS


def get_spec(retailer_id: str) -> RetailerSpec:
    """The spec of `retailer_id`; ValueError for an unknown id."""
    if retailer_id not in RETAILER_IDS:
        raise ValueError(f"unknown retailer {retailer_id!r}; known: {', '.join(RETAILER_IDS)}")
    return importlib.import_module(f"retailers.{retailer_id}").SPEC


def parse_retailer_ids(text: str | None) -> list[str]:
    """`"retailer1,retailer3"` (or None for all) as a validated list."""
    if not text:
        return list(RETAILER_IDS)
    ids = [part.strip() for part in text.split(",") if part.strip()]
    for rid in ids:
        get_spec(rid)
    return ids
