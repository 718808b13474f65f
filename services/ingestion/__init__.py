"""Ingestion: fetch each retailer's day, normalize it to the canonical model, land it in S3."""
