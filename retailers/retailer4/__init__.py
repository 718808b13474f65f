"""retailer4 "Quickcart": a checkout platform that publishes orders, payments and shipments
as versioned events on NATS JetStream, and serves reference data (customers, products,
stores) and per-day control totals over a small REST API with a bearer token.

No database: the day's events and the reference data are computed from the shared
generator world (deterministic in the seed and the date), so a day can always be produced
again (replayed).
"""
