"""services/transformation/marts.py run by the operator: `retail refresh-marts` rebuilds
emptied marts from the warehouse alone, to the same rows the loads wrote."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from typer.testing import CliRunner

from suite.cli import app
from tests.factories import generate_day
from tests.fixtures.core import truncate_pipeline_tables
from tests.fixtures.transformation import Lake

DAY = dt.date(2024, 2, 12)
MARTS = ("daily_orders", "daily_revenue", "order_funnel", "product_revenue",
         "category_revenue", "order_cancellations", "fulfillment_times")


def test_refresh_marts_rebuilds_emptied_marts_to_the_rows_the_loads_wrote(engine, s3,
                                                                          load_engine):
    truncate_pipeline_tables(engine)
    lake = Lake(engine, s3)
    lake.land_and_load(*[generate_day(r, DAY, orders=40, products=12, customers=30, seed=i)
                         for i, r in enumerate(("retailer1", "retailer3"))])
    tables = [f"marts.{m}" for m in MARTS]
    loaded = lake.checksum(tables)
    assert lake.scalar("select orders_created from marts.daily_orders "
                       "where order_date = :d and retailer_id = 'ALL'", d=DAY) == 80
    with engine.begin() as conn:
        conn.execute(text(f"truncate {', '.join(tables)}"))

    result = CliRunner().invoke(app, ["refresh-marts", "--start", DAY.isoformat(),
                                      "--end", (DAY + dt.timedelta(days=1)).isoformat()])

    assert result.exit_code == 0, result.output
    assert "marts of 2 date(s) rebuilt" in result.output
    assert lake.checksum(tables) == loaded
