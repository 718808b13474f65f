"""Shared fixtures. Each module in tests/fixtures/ is a pytest plugin loaded here, so the
fixtures that start and clean real services live beside the part they serve."""

from pathlib import Path

pytest_plugins = [
    f"tests.fixtures.{p.stem}"
    for p in sorted((Path(__file__).parent / "fixtures").glob("[!_]*.py"))
]
