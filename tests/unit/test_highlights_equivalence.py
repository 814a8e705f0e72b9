"""The highlighter's fast path (one plan per query, memoized tokens, joined runs tried
only from a token that starts the word) gives exactly what the previous implementation
gave (tests/unit/highlights_reference.py), on generated contacts and queries: realistic
names in several locales, prefixes, typos, joined words, phones in any format, and
hostile text (accents, ß, other scripts, underscores, long and many-token values)."""

from __future__ import annotations

import random

from app.search import highlights as fast
from app.search.readings import parse_query
from devtools.fakedata import contacts
from tests.unit import highlights_reference as reference

HOSTILE = [
    "",
    " ",
    "ß",
    "Straße",
    "Æsir Œuvre",
    "Łódź Đorđe",
    "O'Brien-Smith",
    "van der Berg",
    "_a_b_c_",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh ii",
    "x" * 300,
    "Jo" * 40,
    "李小龙",
    "Ελένη Παπαδοπούλου",
    "Анна-Мария",
    "\u0301\u0301e\u0301",
    "ｆｕｌｌｗｉｄｔｈ",
    "1st 2nd 3rd",
    "+1 (415) 555-1234",
]


def _queries(rng: random.Random, contact: dict) -> list[str]:
    words = [
        w
        for f in ("firstName", "lastName", "company", "email")
        for w in str(contact.get(f) or "").replace("@", " ").replace(".", " ").split()
    ]
    phone = contact.get("phone") or ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    found = [rng.choice(HOSTILE)]
    if words:
        word = rng.choice(words)
        found += [
            word,
            word[: rng.randint(1, len(word))],
            word.lower().upper(),
            " ".join(rng.sample(words, min(len(words), 2))),
            "".join(words[:3]),
        ]
        if len(word) > 3:
            i = rng.randrange(1, len(word) - 1)
            found += [word[:i] + word[i + 1 :], word[:i] + word[i + 1] + word[i] + word[i + 2 :]]
    if digits:
        found += [digits[-4:], digits[:6], phone, f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"]
    found.append("".join(rng.choice("aeiouxyzßé_- 0123456789") for _ in range(rng.randint(1, 20))))
    return found


def test_fast_highlights_equal_the_previous_implementation_on_generated_inputs():
    rng = random.Random(14)
    people = list(contacts(600, seed=14))
    for n in range(200):  # hostile values in every field
        people.append(
            {
                "firstName": rng.choice(HOSTILE),
                "lastName": rng.choice(HOSTILE),
                "company": rng.choice(HOSTILE) or None,
                "email": rng.choice(["ß@x.de", "a_b@c.io", None, "x" * 80 + "@y.com"]),
                "phone": rng.choice(["+14155551234", "+442079460000", None, f"+1{n:010d}"]),
            }
        )
    compared = 0
    for contact in people:
        for text in _queries(rng, contact):
            parsed = parse_query(text)
            # The same contact is highlighted by other queries too: memos get reused.
            for other in (contact, rng.choice(people)):
                assert fast.highlights(other, parsed) == reference.highlights(other, parsed), (
                    text,
                    other,
                )
                compared += 1
    assert compared > 8000
