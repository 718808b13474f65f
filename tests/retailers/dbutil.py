"""Direct reads of a retailer's database, to compare what the API serves with what is stored."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql


def query(url: str, sql: str, params: dict | tuple | None = None) -> list[tuple]:
    conn = psycopg2.connect(url, options="-c timezone=UTC")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def drop_database(url: str) -> None:
    """Drop the database of `url` (ending its sessions)."""
    base, name = url.rsplit("/", 1)
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(name)))
    finally:
        conn.close()
