"""The observability tests need Debian's `prometheus` package (prometheus and promtool):
`make test` installs it when missing (`make prometheus-deps`)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(autouse=True, scope="session")
def prometheus_binaries() -> None:
    missing = [b for b in ("prometheus", "promtool") if shutil.which(b) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: run `make prometheus-deps` "
                    "(Debian's prometheus package)", pytrace=False)
