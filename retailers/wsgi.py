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
from shared.settings import load_settings_or_exit


def create_app(retailer_id: str) -> Flask:
    """The app of `retailer_id`, configured from the environment; a missing or placeholder
    secret stops the process with a message naming the variable."""
    settings = load_settings_or_exit()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return build_app(get_spec(retailer_id), RetailerConfig.from_settings(retailer_id, settings))
