"""Operator tooling for the suite: the local stack, database setup, the `retail` CLI."""
