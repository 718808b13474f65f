"""The replay API's own error; the shape and the handlers are shared (shared/api_errors.py),
which also answers `shared.ops.ActiveRunExists` with the suite's 409 `active_run_exists`."""

from __future__ import annotations

from shared.api_errors import NotFound

__all__ = ["NothingStored"]


class NothingStored(NotFound):
    """The date, or a requested retailer of it, was never landed; `missing` lists them."""

    error = "no_stored_partition"
