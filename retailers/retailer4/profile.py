"""Quickcart's world: a direct-to-consumer checkout stack selling home and tech goods in
dollars ending in .00."""

from retailers.generator.profile import Category, Place, RetailerProfile

PROFILE = RetailerProfile(
    retailer_no=4,
    currency="USD",
    brand="Quickcart",
    places=(
        Place("Los Angeles", "CA", "US", 2.0), Place("Miami", "FL", "US", 1.2),
        Place("Atlanta", "GA", "US"), Place("Phoenix", "AZ", "US"),
        Place("Dallas", "TX", "US", 1.3), Place("Philadelphia", "PA", "US"),
        Place("Detroit", "MI", "US", 0.7), Place("Nashville", "TN", "US", 0.7),
    ),
    store_kinds=("web", "app", "marketplace"),
    store_kind_weights=(0.0, 1.0, 0.5),
    physical_kinds=("app", "marketplace"),
    categories=(
        Category("Audio", ("Headphones", "Speaker", "Earbuds", "Soundbar"), 80, 1.2),
        Category("Kitchen", ("Kettle", "Blender", "Pan", "Knife Set"), 45),
        Category("Home", ("Lamp", "Rug", "Cushion", "Throw"), 35, 1.3),
        Category("Gadgets", ("Charger", "Cable", "Power Bank", "Smart Plug"), 25, 1.5),
    ),
    adjectives=("Nova", "Pulse", "Aero", "Zen", "Flux", "Orbit", "Prime", "Core"),
    first_names=("Ava", "Liam", "Mia", "Ethan", "Zoe", "Noah", "Isla", "Mason", "Aria",
                 "Lucas", "Layla", "Elijah"),
    last_names=("Johnson", "Lee", "Walker", "Hall", "Young", "King", "Wright", "Lopez",
                "Hill", "Scott", "Green", "Adams"),
    email_domains=("gmail.com", "yahoo.com", "icloud.com", "outlook.com"),
    price_ending=0,
    utc_offset_hours=-5,
)
