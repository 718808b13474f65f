"""retailer1 "Northwind Outfitters": API key, offset/limit pages, flat order lines, naive
UTC timestamps, dollars as JSON numbers."""

from importlib.resources import files

from retailers.core.spec import RetailerSpec
from retailers.retailer1.api import routes
from retailers.retailer1.auth import authenticate
from retailers.retailer1.profile import PROFILE
from retailers.retailer1.storage import STORAGE

SPEC = RetailerSpec(
    retailer_id="retailer1",
    name="Northwind Outfitters",
    profile=PROFILE,
    schema_sql=files(__name__) / "schema.sql",
    storage=STORAGE,
    routes=routes,
    authenticate=authenticate,
)
