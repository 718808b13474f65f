"""The page in real headless Chromium, served by a real uvicorn process."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from services.quality.judge import judge_run
from shared.settings import RETAILER_IDS
from suite.processes import ROOT
from tests.quality.seed import seed_run

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
SCREENSHOT = ROOT / ".data" / "quality-page.png"
FAIL_RGB = "rgb(217, 63, 63)"  # --fail in style.css


@pytest.fixture
def ten_judged_days(quality_db, due_date):
    """Ten days of judged runs with varying volume; the last has a failing critical check."""
    runs = []
    for back in range(9, -1, -1):
        with quality_db.begin() as conn:
            # a different rhythm per retailer, so the three lines of a chart are told apart
            runs.append(seed_run(conn, due_date - dt.timedelta(days=back), orders={
                "retailer1": 30 + (back * 7) % 11, "retailer2": 18 + (back * 5) % 7,
                "retailer3": 8 + (back * 3) % 4, "retailer5": 5 + back % 3}))
    with quality_db.begin() as conn:
        # the last day: one of retailer2's lines never reached the warehouse
        conn.execute(text("delete from warehouse.fact_sales where retailer_key = 2 "
                          "and order_id = :o and line_number = 2"),
                     {"o": runs[-1].order("retailer2")})
        # three days earlier: a customer without email (a warning)
        conn.execute(text("update warehouse.dim_customer set email = null "
                          "where retailer_id = 'retailer3' and customer_id = 'C2'"))
    verdicts = [judge_run(run.run_id, run.run_date)["status"] for run in runs]
    assert verdicts[-1] == "failed"
    return runs


@pytest.mark.browser
def test_the_page_shows_runs_grid_and_charts(quality_server, ten_judged_days) -> None:
    from playwright.sync_api import sync_playwright

    failed = ten_judged_days[-1]
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text)
                    if msg.type == "error" and "503" not in msg.text else None)
            page.goto(f"{quality_server}/")
            page.wait_for_selector("body[data-ready='true']", timeout=15000)

            # the latest runs, newest first, with the failed verdict on top
            first_row = page.locator("#runs tbody tr").first
            assert failed.run_date.isoformat() in first_row.inner_text()
            assert first_row.locator(".badge.v-failed").count() == 1
            assert page.locator("#health").inner_text() == "Failing"

            # the charts drew a line per retailer, with real geometry
            for chart in ("chart-lines", "chart-revenue", "chart-rejected"):
                paths = page.locator(f"#{chart} svg path.series")
                assert paths.count() == len(RETAILER_IDS), chart
                assert all(len(paths.nth(i).get_attribute("d")) > 50
                           for i in range(len(RETAILER_IDS))), chart
                # ten days of data per retailer: days before the first run are gaps, not zeros
                assert page.locator(f"#{chart} svg circle.pt").count() == \
                    10 * len(RETAILER_IDS), chart

            # the seeded failure is red in the grid, and one click away from its sample
            cell = page.locator("tr[data-check='reconcile_line_count'] "
                                "button[data-status='fail']")
            assert cell.count() == 1
            assert cell.evaluate("e => getComputedStyle(e).backgroundColor") == FAIL_RGB
            assert "retailer2" in cell.get_attribute("title")
            assert page.locator("button.cellbtn[data-status='warn']").count() >= 1
            cell.click()
            page.wait_for_selector("#panel:not([hidden]) table.sample", timeout=5000)
            panel = page.locator("#panel").inner_text()
            assert "reconcile_line_count" in panel and "control_line_count" in panel

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.locator("#panel-close").click()
            page.screenshot(path=str(SCREENSHOT.with_name("quality-page-grid.png")),
                            full_page=True)
        finally:
            browser.close()
    assert errors == []
