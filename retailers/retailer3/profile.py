"""Euromarché's world: groceries and household goods across Europe, in euros ending .95."""

from retailers.generator.profile import Category, Place, RetailerProfile

PROFILE = RetailerProfile(
    retailer_no=3,
    currency="EUR",
    brand="Euromarché",
    places=(
        Place("Paris", "IDF", "FR", 3.0), Place("Lyon", "ARA", "FR", 1.5),
        Place("Lille", "HDF", "FR"), Place("Bordeaux", "NAQ", "FR"),
        Place("Strasbourg", "GES", "FR", 0.8), Place("Bruxelles", "BRU", "BE", 1.5),
        Place("Liège", "WAL", "BE", 0.7), Place("Köln", "NW", "DE", 1.2),
        Place("Luxembourg", "LU", "LU", 0.5), Place("Amsterdam", "NH", "NL", 1.2),
        Place("Barcelona", "CT", "ES", 1.2), Place("Milano", "LOM", "IT", 1.2),
    ),
    store_kinds=("online", "hypermarket", "supermarket", "express"),
    store_kind_weights=(0.0, 2.0, 4.0, 3.0),
    physical_kinds=("hypermarket", "supermarket", "express"),
    categories=(
        Category("Épicerie", ("Pâtes", "Riz", "Huile d'olive", "Café moulu", "Chocolat noir"),
                 3, 2.0),
        Category("Frais", ("Yaourt", "Fromage", "Beurre", "Jambon"), 4, 2.0),
        Category("Boissons", ("Eau minérale", "Jus d'orange", "Vin rouge", "Bière"), 6, 1.5),
        Category("Hygiène", ("Shampooing", "Dentifrice", "Savon"), 4),
        Category("Maison", ("Lessive", "Éponges", "Papier toilette"), 7),
        Category("Électroménager", ("Bouilloire", "Grille-pain", "Mixeur"), 45, 0.4),
    ),
    adjectives=("Bio", "Premium", "Classique", "Familial", "Léger", "Extra", "Tradition",
                "Origine", "Gourmet", "Éco"),
    first_names=("Élodie", "Jürgen", "François", "Zoë", "Chloé", "Léa", "Lukas", "Marie",
                 "Sofía", "Giulia", "Noah", "Emma", "Thomas", "Camille", "Hugo", "Lotte", "Sven",
                 "Inès", "Matteo", "Anouk", "Björn", "Margaux"),
    last_names=("Dubois", "Müller", "Martin", "Janssens", "Rossi", "García", "De Vries",
                "Lefèvre", "Schmidt", "Peeters", "Bernard", "Moreau", "Fischer", "Bianchi",
                "López", "Van den Berg", "Girard", "Weber"),
    email_domains=("orange.fr", "gmx.de", "free.fr", "telenet.be", "gmail.com", "web.de",
                   "outlook.fr"),
    price_ending=95,
    utc_offset_hours=1,
)
