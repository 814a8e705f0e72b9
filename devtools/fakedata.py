"""Realistic, reproducible contact rows for benchmarks and large tests (several locales)."""

from __future__ import annotations

import random
from collections.abc import Iterator

FIRST_NAMES = {
    "en": [
        "James",
        "Mary",
        "John",
        "Patricia",
        "Robert",
        "Jennifer",
        "Michael",
        "Linda",
        "William",
        "Elizabeth",
        "David",
        "Barbara",
        "Richard",
        "Susan",
        "Joseph",
        "Jessica",
        "Thomas",
        "Sarah",
        "Charles",
        "Karen",
        "Christopher",
        "Nancy",
        "Daniel",
        "Lisa",
    ],
    "es": [
        "José",
        "María",
        "Juan",
        "Lucía",
        "Alejandro",
        "Sofía",
        "Diego",
        "Valentina",
        "Javier",
        "Camila",
        "Andrés",
        "Isabel",
        "Raúl",
        "Carmen",
        "Íñigo",
        "Ángela",
    ],
    "de": [
        "Jürgen",
        "Müller",
        "Lukas",
        "Anna",
        "Jörg",
        "Greta",
        "Matthias",
        "Sönke",
        "Katharina",
        "Björn",
        "Ursula",
        "Felix",
        "Käthe",
        "Maximilian",
        "Lena",
        "Uwe",
    ],
    "fr": [
        "François",
        "Amélie",
        "Jérôme",
        "Hélène",
        "Étienne",
        "Chloé",
        "Benoît",
        "Céline",
        "Loïc",
        "Gaëlle",
        "Mathéo",
        "Inès",
        "Noël",
        "Léa",
        "Aurélien",
        "Zoé",
    ],
}
LAST_NAMES = {
    "en": [
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Miller",
        "Davis",
        "Wilson",
        "Anderson",
        "Taylor",
        "Thomas",
        "Moore",
        "Jackson",
        "Martin",
        "Thompson",
        "White",
    ],
    "es": [
        "García",
        "Rodríguez",
        "Martínez",
        "Hernández",
        "López",
        "González",
        "Pérez",
        "Sánchez",
        "Ramírez",
        "Torres",
        "Flores",
        "Rivera",
        "Gómez",
        "Díaz",
        "Muñoz",
    ],
    "de": [
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Schäfer",
        "Koch",
        "Bauer",
        "Richter",
        "Klein",
        "Wolf",
    ],
    "fr": [
        "Martin",
        "Bernard",
        "Dubois",
        "Thomas",
        "Robert",
        "Richard",
        "Petit",
        "Durand",
        "Leroy",
        "Moreau",
        "Simon",
        "Laurent",
        "Lefèvre",
        "Michel",
        "Garçon",
        "Fontaine",
    ],
}
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Aperture",
    "Massive",
    "Dynamic",
    "Pied Piper",
    "Blue Sun",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Nakatomi",
]
COMPANY_SUFFIXES = ["Inc", "LLC", "GmbH", "SA", "Ltd", "Corp", "Group", "Partners", "& Co"]
TAGS = ["lead", "customer", "vip", "churned", "partner", "trial", "enterprise", "smb"]
# Area codes that libphonenumber accepts as valid US geographic numbers.
AREA_CODES = [
    "201",
    "212",
    "213",
    "305",
    "312",
    "415",
    "503",
    "512",
    "617",
    "646",
    "702",
    "718",
    "773",
    "808",
    "917",
    "949",
]


def phone(rng: random.Random) -> str:
    exchange = rng.randint(200, 999)
    return f"+1{rng.choice(AREA_CODES)}{exchange}{rng.randint(0, 9999):04d}"


def contact(rng: random.Random) -> dict:
    locale = rng.choice(list(FIRST_NAMES))
    first, last = rng.choice(FIRST_NAMES[locale]), rng.choice(LAST_NAMES[locale])
    company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
    ascii_last = last.encode("ascii", "ignore").decode().lower() or "x"
    return {
        "firstName": first,
        "lastName": last,
        "phone": phone(rng),
        "email": f"{first[0].lower()}.{ascii_last}{rng.randint(1, 99999)}@"
        f"{company.split()[0].lower()}.example.com",
        "company": company,
        "tags": rng.sample(TAGS, rng.randint(0, 2)),
    }


def contacts(count: int, seed: int = 42) -> Iterator[dict]:
    rng = random.Random(seed)
    for _ in range(count):
        yield contact(rng)
