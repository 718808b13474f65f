"""Transformation: silver objects in S3 -> star schema in PostgreSQL -> marts.

`load.py` loads one partition (retailer, date) in one transaction; `tasks.py` wraps it in
Celery; `replay.py`, `api.py` and `cli.py` re-transform a date from stored silver objects.
"""
