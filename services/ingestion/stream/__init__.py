"""The ingestion service's stream consumer: retailer4's events from NATS JetStream into
bronze/silver micro-batches, applied by transformation, acknowledged after the commit."""
