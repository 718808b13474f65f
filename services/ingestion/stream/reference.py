"""retailer4's reference data (channels, customers, products) over REST, as canonical
records, and its control totals for a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from services.ingestion.settings import Retailer4Settings
from shared import canonical as c

RETAILER_ID = "retailer4"


def _client(s: Retailer4Settings) -> httpx.Client:
    return httpx.Client(base_url=s.url, timeout=30.0, headers={
        "Authorization": f"Bearer {s.api_token.get_secret_value()}"})


def _get(s: Retailer4Settings, path: str, **params: str) -> Any:
    with _client(s) as client:
        resp = client.get(path, params=params)
        resp.raise_for_status()
        return resp.json()


def reference_records(s: Retailer4Settings, as_of: dt.date) -> dict[str, list[dict[str, Any]]]:
    """The snapshot as of the end of `as_of`, as canonical stores, customers, products."""
    day = as_of.isoformat()
    channels = _get(s, "/v1/channels")["channels"]
    customers = _get(s, "/v1/customers", as_of=day)["customers"]
    products = _get(s, "/v1/products", as_of=day)["products"]
    return {
        "stores": [{"retailer_id": RETAILER_ID, "store_id": x["channel_id"],
                    "store_name": x["name"], "channel": x["kind"] if x["kind"] in c.CHANNELS
                    else "web", "city": x["city"], "region": x["region"],
                    "country": x["country"]} for x in channels],
        "customers": [{"retailer_id": RETAILER_ID, "customer_id": x["customer_id"],
                       "email": c.text_or_none(x["email"]), "full_name": x["name"],
                       "city": x["city"], "region": x["region"], "country": x["country"],
                       "valid_from": c.timestamp(x["updated_at"], "updated_at")}
                      for x in customers],
        "products": [{"retailer_id": RETAILER_ID, "product_id": x["sku"],
                      "product_name": x["title"], "category": x["category"],
                      "list_price": c.money(x["price"]), "currency": c.currency(x["currency"]),
                      "valid_from": c.timestamp(x["updated_at"], "updated_at")}
                     for x in products],
    }


def control_totals(s: Retailer4Settings, day: dt.date) -> dict[str, Any]:
    return dict(_get(s, "/v1/control-totals", date=day.isoformat()))


def request_replay(s: Retailer4Settings, day: dt.date,
                   event_ids: list[str] | None = None) -> dict[str, Any]:
    """Ask the source to publish the day's events again (all, or only `event_ids`)."""
    body: dict[str, Any] = {"date": day.isoformat()}
    if event_ids is not None:
        body["event_ids"] = event_ids
    with _client(s) as client:
        resp = client.post("/v1/replay", json=body, timeout=300.0)
        resp.raise_for_status()
        return dict(resp.json())
