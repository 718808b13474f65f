"""retailer2 "Maple & Main": HTTP Basic, keyset cursors, nested orders, integer cents,
New York local timestamps with offsets."""

from importlib.resources import files

from retailers.core.spec import RetailerSpec
from retailers.retailer2.api import routes
from retailers.retailer2.auth import authenticate
from retailers.retailer2.profile import PROFILE
from retailers.retailer2.storage import STORAGE

SPEC = RetailerSpec(
    retailer_id="retailer2",
    name="Maple & Main",
    profile=PROFILE,
    schema_sql=files(__name__) / "schema.sql",
    storage=STORAGE,
    routes=routes,
    authenticate=authenticate,
    session_timezone="America/New_York",
)
