"""The WSGI entry point gunicorn serves:

    gunicorn -w $RETAILER_WORKERS -k gthread --threads 4 -b 127.0.0.1:5001 \
        'retailers.wsgi:create_app("retailer1")'
"""

from __future__ import annotations

import logging

from flask import Flask

from retailers.core.app import create_app as build_app
from retailers.core.config import RetailerConfig
from retailers.registry import get_spec
from retailers.settings import load_or_exit, server_settings_class


def create_app(retailer_id: str) -> Flask:
    """The app of `retailer_id`, configured from its own variables only (RETAILER_* and its
    RETAILERn_*); a missing or placeholder secret stops the process naming the variable."""
    if retailer_id == "retailer4":  # events on NATS JetStream; no database of its own
        from retailers.retailer4.api import create_app as create_retailer4

        return create_retailer4()
    spec = get_spec(retailer_id)
    settings = load_or_exit(server_settings_class(retailer_id))
    logging.basicConfig(level=settings.retailer.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return build_app(spec, RetailerConfig.from_settings(settings))
