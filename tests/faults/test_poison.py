"""Scenario 10 of issue #14: poison records of every kind retailer1's feed can carry, at
about 5% of a day's order lines, each rejected with its reason while the rest loads."""

from __future__ import annotations

import datetime as dt

import pytest

from retailers.generator import seed_dates
from suite.processes import free_port
from tests.faults.harness import assert_exact, report, running_suite
from tests.faults.poison import LINE_POISONS, ORDER_POISONS, PoisonProxy

pytestmark = [pytest.mark.faults, pytest.mark.slow]
DAY = dt.date(2024, 4, 29)


def test_poison_records_at_five_percent_of_a_day(settings, empty_pipeline, retailer_apps):
    # A fuller day at retailer1, so every kind of poison lands on some line.
    seed_dates(("retailer1",), DAY, DAY, settings=settings,
               overrides={**retailer_apps.seed_overrides, "orders_per_day": 400},
               database_urls=retailer_apps.database_urls)
    retailer_apps.seed(DAY, retailers=("retailer2", "retailer3"))
    proxy = PoisonProxy(retailer_apps.urls["retailer1"], free_port(), order_share=0.01,
                        line_share=0.035).start()
    try:
        with running_suite(settings, "faults-poison",
                           {"RETAILER1_URL": f"http://127.0.0.1:{proxy.port}"}) as suite:
            run_id = suite.post_run(DAY)
            run = suite.wait(run_id)
            drop_orders = {("retailer1", o) for o in proxy.poisoned_orders}
            drop_lines = {("retailer1", o, n) for o, n in proxy.poisoned_lines}
            totals = assert_exact(suite, retailer_apps.database_urls, run_id, DAY,
                                  drop_orders=drop_orders, drop_lines=drop_lines)
            with suite.db() as cur:
                cur.execute("select reason, count(distinct record_key) from ops.rejected_record "
                            "where run_id = %s and retailer_id = 'retailer1' "
                            "and entity = 'order_lines' group by reason", (run_id,))
                rejected = dict(cur.fetchall())
    finally:
        proxy.stop()
    share = len(proxy.poisoned_lines) / len(proxy.lines_seen)
    assert 0.03 <= share <= 0.08, share
    assert set(proxy.kinds) == set(ORDER_POISONS) | set(LINE_POISONS), proxy.kinds
    # Every poisoned line is rejected with the reason of its poison (lines of a poisoned
    # order with the order's reason); the generator's own negative quantities add to theirs.
    for kind in ("unknown_status", "bad_timestamp", "malformed_record", "missing_field",
                 "bad_number"):
        assert rejected.get(kind, 0) >= proxy.kinds[kind] > 0, (kind, rejected, proxy.kinds)
    assert rejected.get("negative_quantity", 0) >= proxy.kinds["negative_quantity"]
    report("10 poison records, 6 kinds, retailer1", poisoned_lines=len(proxy.poisoned_lines),
           lines_served=len(proxy.lines_seen), share=f"{share:.1%}",
           kinds=dict(proxy.kinds), rejected_by_reason=rejected, status=run["status"],
           **{f"{rid}_lines": t["lines"] for rid, t in totals.items()})
