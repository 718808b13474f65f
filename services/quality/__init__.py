"""The quality service: checks as data, run verdicts, an HTTP API and a page."""
