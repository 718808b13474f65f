"""The deterministic data generator shared by the three retailers.

`seed_dates(retailer_ids, start, end, settings=..., overrides=...)` is the entry point used
by the CLI, the tests, the demo and the benchmarks.
"""

from retailers.generator.seed import DaySeed, SeedReport, seed_dates

__all__ = ["DaySeed", "SeedReport", "seed_dates"]
