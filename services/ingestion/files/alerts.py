"""The alert hook: a file that cannot be loaded is posted to INBOX_ALERT_WEBHOOK_URL.

The ops record (`ops.inbox_file`, status `error`) is the alert that always exists; the
webhook tells a person. A webhook that fails is logged and never fails the pipeline's work.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from services.ingestion.settings import InboxSettings

log = logging.getLogger(__name__)


def send_alert(settings: InboxSettings, body: dict[str, Any]) -> bool:
    """POST `body` as JSON to the webhook. True when it answered 2xx."""
    if settings.alert_webhook_url is None:
        return False
    url = settings.alert_webhook_url.get_secret_value()
    if not url:
        return False
    try:
        resp = httpx.post(url, json=body, timeout=settings.alert_timeout_seconds)
    except httpx.HTTPError as exc:
        log.warning("the alert webhook failed: %s", type(exc).__name__)
        return False
    if resp.status_code >= 300:
        log.warning("the alert webhook answered %s", resp.status_code)
        return False
    return True
