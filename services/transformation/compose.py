"""Column lists for the load's statements, composed with psycopg's `sql` module (the one way
the load builds SQL: identifiers are quoted, values are always parameters)."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql


def columns(names: Iterable[str], table: str | None = None) -> sql.Composed:
    """`a, b, c`, or `t.a, t.b, t.c` with a table (alias).

    Args:
        names: column names.
        table: the table or alias to qualify them with, if any.
    Returns:
        The comma-separated list.
    """
    return sql.SQL(", ").join(
        sql.Identifier(table, n) if table else sql.Identifier(n) for n in names)


def assignments(names: Iterable[str], source: str) -> sql.Composed:
    """`a = s.a, b = s.b` for an UPDATE's or an upsert's SET list.

    Args:
        names: the columns to set.
        source: the table or alias whose same-named columns give the values.
    Returns:
        The comma-separated assignments.
    """
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(n), sql.Identifier(source, n)) for n in names)


def earliest(names: Iterable[str], older: str, newer: str) -> sql.Composed:
    """`least(o.a, n.a), least(o.b, n.b)`: per column, the earlier of two rows' instants.

    Args:
        names: the columns.
        older: the table or alias of the stored row.
        newer: the table or alias of the arriving row.
    Returns:
        The comma-separated expressions.
    """
    return sql.SQL(", ").join(
        sql.SQL("least({}, {})").format(sql.Identifier(older, n), sql.Identifier(newer, n))
        for n in names)


def earliest_assignments(names: Iterable[str], older: str, newer: str) -> sql.Composed:
    """`a = least(o.a, n.a), ...` for an UPDATE that only moves instants earlier.

    Args:
        names: the columns to set.
        older: the alias of the row being updated.
        newer: the alias of the arriving row.
    Returns:
        The comma-separated assignments.
    """
    return sql.SQL(", ").join(
        sql.SQL("{} = least({}, {})").format(sql.Identifier(n), sql.Identifier(older, n),
                                             sql.Identifier(newer, n))
        for n in names)
