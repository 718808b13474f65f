"""Files dropped in the lake's inbox (retailer5): names, streamed CSV reading, the mapping
to the canonical model, the inbox scan and claims, alerts, and the ingest step that lands a
batch file through the same objects and manifest as every retailer (docs/ingestion.md)."""
