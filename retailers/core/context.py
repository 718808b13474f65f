"""The per-app state a request works with: spec, config, database, runtime state, caches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flask import current_app

from retailers.core.chaos import RuntimeState
from retailers.core.config import RetailerConfig
from retailers.core.database import Database, Params
from retailers.core.keyindex import KeyIndexCache
from retailers.core.params import Day
from retailers.core.spec import RetailerSpec

EXTENSION = "retailer"


@dataclass
class RetailerContext:
    spec: RetailerSpec
    config: RetailerConfig
    db: Database
    state: RuntimeState
    keys: KeyIndexCache

    def day_keys(self, resource: str, day: Day, sql: str, params: Params = None) -> np.ndarray:
        """The keys of `resource` on `day` in page order (a one-column bigint query),
        cached per worker until the data version changes."""
        version = self.state.snapshot().data_version
        bound = {**day.sql(), **(params or {})}
        return self.keys.get((resource, day.date), version,
                             lambda: self.db.int64_keys(sql, bound))


def current() -> RetailerContext:
    """The context of the app serving this request."""
    return current_app.extensions[EXTENSION]
