"""retailer2 "Maple & Main": HTTP Basic, keyset cursors, nested orders, integer cents,
New York local timestamps with offsets."""

from pathlib import Path

from retailers.core.spec import RetailerSpec
from retailers.retailer2.api import routes
from retailers.retailer2.auth import authenticate
from retailers.retailer2.profile import PROFILE
from retailers.retailer2.storage import STORAGE

SPEC = RetailerSpec(
    retailer_id="retailer2",
    name="Maple & Main",
    profile=PROFILE,
    schema_sql=Path(__file__).with_name("schema.sql"),
    storage=STORAGE,
    routes=routes,
    authenticate=authenticate,
    session_timezone="America/New_York",
)
