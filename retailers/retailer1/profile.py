"""Northwind Outfitters' world: outdoor gear, US cities, dollars ending in .99."""

from retailers.generator.profile import Category, Place, RetailerProfile

PROFILE = RetailerProfile(
    retailer_no=1,
    currency="USD",
    brand="Northwind",
    places=(
        Place("Seattle", "WA", "US", 2.0), Place("Boston", "MA", "US", 1.5),
        Place("Denver", "CO", "US", 1.5), Place("Portland", "OR", "US", 1.2),
        Place("Chicago", "IL", "US", 1.5), Place("Austin", "TX", "US"),
        Place("Minneapolis", "MN", "US"), Place("Salt Lake City", "UT", "US"),
        Place("Burlington", "VT", "US", 0.5), Place("Boise", "ID", "US", 0.6),
        Place("Anchorage", "AK", "US", 0.4), Place("Asheville", "NC", "US", 0.6),
        Place("San Francisco", "CA", "US", 1.5), Place("New York", "NY", "US", 2.0),
    ),
    store_kinds=("online", "retail"),
    store_kind_weights=(0.0, 1.0),
    physical_kinds=("retail",),
    categories=(
        Category("Jackets", ("Parka", "Shell Jacket", "Down Vest", "Rain Jacket", "Fleece"),
                 120, 1.2),
        Category("Footwear", ("Hiking Boot", "Trail Runner", "Sandal", "Camp Shoe"), 110),
        Category("Camping", ("Tent", "Sleeping Bag", "Camp Stove", "Headlamp", "Cooler"), 90),
        Category("Climbing", ("Harness", "Carabiner", "Rope", "Chalk Bag"), 45, 0.6),
        Category("Accessories", ("Beanie", "Gloves", "Socks", "Water Bottle", "Daypack"), 20, 1.5),
        Category("Base Layers", ("Merino Tee", "Thermal Top", "Leggings"), 40),
    ),
    adjectives=("Alpine", "Summit", "Ridge", "Cascade", "Trail", "Glacier", "Timber",
                "Canyon", "Nordic", "Coastal", "Backcountry", "Basecamp"),
    first_names=("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
                 "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph",
                 "Jessica", "Thomas", "Sarah", "Chris", "Karen", "Daniel", "Emily", "Matthew",
                 "Ashley", "Anthony", "Megan", "Kevin", "Rachel"),
    last_names=("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
                "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor",
                "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
                "Clark", "Lewis", "Walker", "Young", "O'Brien"),
    email_domains=("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com",
                   "hotmail.com"),
    price_ending=99,
    utc_offset_hours=-6,
)
