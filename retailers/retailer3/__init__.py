"""retailer3 "Euromarché": OAuth2 client credentials, page numbers, orders, items and
events as separate resources, euros as strings, RFC 3339 UTC timestamps."""

from importlib.resources import files

from retailers.core.spec import RetailerSpec
from retailers.retailer3.api import routes
from retailers.retailer3.auth import authenticate, token_routes
from retailers.retailer3.profile import PROFILE
from retailers.retailer3.storage import STORAGE

SPEC = RetailerSpec(
    retailer_id="retailer3",
    name="Euromarché",
    profile=PROFILE,
    schema_sql=files(__name__) / "schema.sql",
    storage=STORAGE,
    routes=routes,
    authenticate=authenticate,
    public_routes=token_routes,
)
