"""What the three retailers share: the app factory, chaos, paging, errors, DB helpers."""
