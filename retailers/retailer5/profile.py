"""Harper, Finch & Co.: a British wholesale partner, in pounds ending .99.

Names carry commas and quotes on purpose: its files must quote them (docs/retailers.md).
"""

from retailers.generator.profile import Category, Place, RetailerProfile

PROFILE = RetailerProfile(
    retailer_no=5,
    currency="GBP",
    brand="Harper, Finch & Co.",
    places=(
        Place("London", "LND", "GB", 3.0), Place("Manchester", "MAN", "GB", 1.5),
        Place("Birmingham", "BIR", "GB", 1.2), Place("Leeds", "LDS", "GB"),
        Place("Glasgow", "GLG", "GB"), Place("Bristol", "BST", "GB", 0.8),
        Place("Cardiff", "CRF", "GB", 0.6), Place("Belfast", "BFS", "GB", 0.5),
    ),
    store_kinds=("trade portal", "depot", "cash & carry"),
    store_kind_weights=(0.0, 2.0, 3.0),
    physical_kinds=("depot", "cash & carry"),
    categories=(
        Category("Tea, Coffee & Cocoa", ('Tea "Earl Grey"', "Ground coffee", "Cocoa"), 9, 2.0),
        Category("Biscuits", ("Digestives", 'Shortbread "Highland"', "Oat crumbles"), 4, 2.0),
        Category("Catering", ("Paper cups, 1000", "Napkins, 500", "Foil trays"), 18, 1.0),
        Category("Cleaning", ("Bleach, 5 L", "Degreaser", "Mop heads"), 12),
        Category("Drinks", ("Sparkling water, 24", "Orange squash", "Ginger beer"), 11, 1.5),
    ),
    adjectives=("Trade", "Premium", "Value", "Classic", "Catering", "Bulk"),
    first_names=("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia"),
    last_names=("Smith", "Jones", "Taylor", "Brown", "O'Neill", "Evans", "Walker"),
    email_domains=("btinternet.com", "gmail.com", "outlook.co.uk"),
    price_ending=99,
    utc_offset_hours=0,
)
