"""Three simulated retailers built like three different real systems, from one shared core.

- `retailers.core`: the Flask app factory, chaos layer, paging helpers and DB helpers.
- `retailers.generator`: the deterministic data generator (`seed_dates`).
- `retailers.retailer1|2|3`: what really differs: schema SQL, the load mapping from the
  generator's staging tables, auth, routes and their wire formats.
"""
