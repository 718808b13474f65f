"""Maple & Main's world: home goods sold on the US east coast, in cents."""

from retailers.generator.profile import Category, Place, RetailerProfile

PROFILE = RetailerProfile(
    retailer_no=2,
    currency="USD",
    brand="Maple & Main",
    places=(
        Place("New York", "NY", "US", 3.0), Place("Brooklyn", "NY", "US", 2.0),
        Place("Philadelphia", "PA", "US", 1.5), Place("Newark", "NJ", "US"),
        Place("Hartford", "CT", "US", 0.7), Place("Providence", "RI", "US", 0.6),
        Place("Baltimore", "MD", "US"), Place("Washington", "DC", "US", 1.2),
        Place("Richmond", "VA", "US", 0.7), Place("Pittsburgh", "PA", "US", 0.8),
        Place("Albany", "NY", "US", 0.5), Place("Boston", "MA", "US", 1.3),
    ),
    store_kinds=("web", "app", "marketplace", "store"),
    store_kind_weights=(0.0, 2.0, 1.0, 5.0),
    physical_kinds=("store",),
    categories=(
        Category("Kitchen", ("Skillet", "Chef's Knife", "Dutch Oven", "Cutting Board", "Kettle"),
                 45, 1.4),
        Category("Bedding", ("Duvet Cover", "Pillow", "Throw Blanket", "Sheet Set"), 70),
        Category("Bath", ("Towel Set", "Bath Mat", "Shower Curtain"), 30),
        Category("Decor", ("Vase", "Candle", "Picture Frame", "Table Lamp"), 35, 1.2),
        Category("Pantry", ("Olive Oil", "Coffee Beans", "Maple Syrup", "Tea Sampler"), 15, 1.5),
        Category("Garden", ("Planter", "Watering Can", "Garden Hose"), 25, 0.6),
    ),
    adjectives=("Classic", "Heritage", "Everyday", "Modern", "Rustic", "Vintage", "Linen",
                "Stoneware", "Copper", "Organic", "Cozy", "Harbor"),
    first_names=("Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Isabella",
                 "Mason", "Mia", "Ethan", "Amelia", "Logan", "Harper", "Aiden", "Evelyn", "Jacob",
                 "Abigail", "Benjamin", "Grace", "Samuel", "Chloe", "Henry"),
    last_names=("Cohen", "Murphy", "Rossi", "Kim", "Nguyen", "Patel", "Sullivan", "Kelly",
                "Goldberg", "Chen", "Russo", "Walsh", "Shapiro", "Park", "Reyes", "Brennan",
                "Khan", "Fitzgerald", "Romano", "Levy"),
    email_domains=("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "verizon.net",
                   "comcast.net"),
    price_ending=99,
    utc_offset_hours=-5,
)
