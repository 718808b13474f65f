"""Planner statistics refreshed after a large load (services/transformation/statistics.py)."""

from __future__ import annotations

from sqlalchemy import text

from services.transformation.statistics import refresh_statistics, stale_tables


def test_a_table_grown_by_a_large_share_is_stale():
    counts = {"fact_sales": {"inserted": 300}, "fact_orders": {"inserted": 5},
              "dim_store": {"inserted": 0}}
    estimates = {"fact_sales": 1000.0, "fact_orders": 1000.0, "dim_store": -1.0}
    assert stale_tables(estimates, counts) == ["fact_sales"]
    assert stale_tables({"fact_sales": -1.0}, {"fact_sales": {"inserted": 1}}) == ["fact_sales"]


def test_refresh_statistics_analyzes_a_never_analyzed_table(clean_warehouse, load_engine):
    with clean_warehouse.begin() as conn:
        conn.execute(text(
            "insert into warehouse.fact_orders (retailer_key, order_id, order_date, "
            "order_date_key, status, created_at, currency, run_id) "
            "select 1, 'o' || g, date '2024-01-15', 20240115, 'created', now(), 'USD', "
            "gen_random_uuid() from generate_series(1, 500) g"))
    analyzed = refresh_statistics(load_engine, {"fact_orders": {"inserted": 500}})
    assert analyzed == ["fact_orders"]
    with clean_warehouse.connect() as conn:
        believed = conn.execute(text("select reltuples from pg_class "
                                     "where oid = 'warehouse.fact_orders'::regclass")).scalar()
    assert believed == 500
