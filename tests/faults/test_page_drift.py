"""Scenario 8 of issue #14: an order inserted at retailer1 while its pages are being read.

The order goes before every other of the day (the lowest id of the day's block), so each
later offset page starts two lines earlier than it did: the pages read before the insert
never see it, the ones after serve two lines again. Only the day's control totals, asked
again at the end, show that the read was not of one state.
"""

from __future__ import annotations

import datetime as dt
import time

import psycopg2
import pytest

from tests.faults.harness import assert_exact, report, running_suite, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]
DAY = dt.date(2024, 5, 6)


def insert_first_order_of_the_day(database_url: str, day: dt.date) -> int:
    """Copy the day's first order (and its lines) under the id just before it; returns the
    lines inserted. The retailer's data version is bumped, as its own writes would."""
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select min(order_id) from sales_order where order_ts >= %s "
                        "and order_ts < %s::date + 1", (day, day))
            first = cur.fetchone()[0]
            new = first - 1  # the day's block starts at day number x 1,000,000
            cur.execute("insert into sales_order (order_id, order_ts, customer_id, store_id) "
                        "select %s, order_ts, customer_id, store_id from sales_order "
                        "where order_id = %s", (new, first))
            cur.execute("insert into sales_order_line (row_id, order_id, line_no, sku, qty, "
                        "unit_price, discount, line_total) "
                        "select %s::bigint * 16 + line_no - 1, %s, line_no, sku, abs(qty), "
                        "unit_price, discount, abs(line_total) "
                        "from sales_order_line where order_id = %s "
                        "and row_id in (select min(row_id) from sales_order_line "
                        "where order_id = %s group by line_no)", (new, new, first, first))
            lines = cur.rowcount
            cur.execute("update sim.generator set data_version = data_version + 1")
        return lines
    finally:
        conn.close()


def test_records_inserted_while_pages_are_read(settings, empty_pipeline, retailer_chaos):
    retailer_chaos.seed(DAY)
    retailer_chaos.set_chaos("retailer1", slow_rate=1.0, slow_seconds=0.5)
    with running_suite(settings, "faults-drift", {"STEP_HEARTBEAT_SECONDS": "0.2"}) as suite:
        run_id = suite.post_run(DAY)

        def reading_lines() -> bool:
            with suite.db() as cur:
                cur.execute("select progress ->> 'resource' from ops.run_step where run_id = %s "
                            "and step = 'ingest' and retailer_id = 'retailer1'", (run_id,))
                return cur.fetchone()[0] == "order-lines"

        # order-lines is read last; its pages take about 4 s, the insert is seen by the
        # retailer's workers within about a second
        wait_until(reading_lines, what="retailer1's order-lines pages to be read")
        inserted = insert_first_order_of_the_day(retailer_chaos.database_urls["retailer1"], DAY)
        inserted_at = time.monotonic()
        retailer_chaos.reset_chaos("retailer1", wait=False)
        run = suite.wait(run_id)
        done = time.monotonic() - inserted_at
        totals = assert_exact(suite, retailer_chaos.database_urls, run_id, DAY)
        # the step's error is cleared when it succeeds; the worker's log keeps the attempt's
        log = suite.procs["ingestion"].log_path.read_text(errors="replace")
    assert inserted >= 1
    attempts = run["retailers"]["retailer1"]["ingest"]["attempts"]
    assert attempts >= 2 and "page drift" in log, attempts
    report("8 page drift: an order inserted first in the day while retailer1 was read",
           lines_inserted=inserted, ingest_attempts=attempts, run_end_after_insert_s=round(
               done, 1), status=run["status"],
           **{f"{rid}_lines": t["lines"] for rid, t in totals.items()})
