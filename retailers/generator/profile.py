"""What a retailer's generated world looks like: its places, products, names and money.

The generator core is the same for every retailer; a profile is the configuration that
makes Northwind's world American and Euromarché's European.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    """A product category: its name, the nouns its products are named with, a typical price."""

    name: str
    nouns: tuple[str, ...]
    median_price: float
    weight: float = 1.0


@dataclass(frozen=True)
class Place:
    """A city with its region (state, province) and ISO country code."""

    city: str
    region: str
    country: str
    weight: float = 1.0


@dataclass(frozen=True)
class RetailerProfile:
    """The vocabulary and economics of one retailer's generated data."""

    retailer_no: int
    currency: str
    brand: str
    places: tuple[Place, ...]
    # Store kinds in the retailer's own words; the first is the online channel (store 1).
    store_kinds: tuple[str, ...]
    store_kind_weights: tuple[float, ...]
    # Kinds that are shops in a city (named after it); the others are named after the kind.
    physical_kinds: tuple[str, ...]
    categories: tuple[Category, ...]
    adjectives: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    email_domains: tuple[str, ...]
    # Prices end in .99 (US) or .95 (EU).
    price_ending: int
    # Hours to add to UTC for local time; shapes the time-of-day curve of orders.
    utc_offset_hours: int
