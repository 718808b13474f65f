"""The suite's services: ingestion, transformation, quality."""
