"""The highlighter's fast path (one plan per query, memoized tokens, joined runs tried
only from a token that starts the word) gives exactly what the previous implementation
gave (tests/unit/highlights_reference.py), on generated contacts and queries: realistic
names in several locales, prefixes, typos, joined words, phones in any format, and
hostile text (accents, ß, other scripts, underscores, long and many-token values)."""

from __future__ import annotations

import random
import re

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


# Secondary numbers and addresses: the same people with more of each, hostile ones too.
ODD_ADDRESSES = [
    "ß@x.de",
    "a_b@c.io",
    "o'brien+tag@mail.example.com",
    "jöhn.dœ@beispiel.de",
    "李@例子.中国",
    "x" * 80 + "@y.com",
    "-.-@-.-",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h@x.io",
    "verylongpartthatgoespasttwentychars@x.io",
]
ODD_NUMBERS = ["+14155551234", "+442079460000", "+4915112345678", "+861012345678", "+1555"]


def _with_methods(rng: random.Random, person: dict) -> dict:
    """The person with 1-4 numbers and addresses as search returns them (primary first)."""
    numbers = [person["phone"]] if person.get("phone") else []
    numbers += [
        rng.choice(ODD_NUMBERS + [f"+1415{rng.randint(0, 9_999_999):07d}"]) for _ in range(3)
    ]
    addresses = [person["email"]] if person.get("email") else []
    local = (person.get("email") or "x@y").split("@")[0]
    addresses += [rng.choice([*ODD_ADDRESSES, f"{local}.{rng.randint(1, 99)}@alt.example.org"])]
    addresses += [rng.choice(ODD_ADDRESSES)]
    numbers = list(dict.fromkeys(numbers))[: rng.randint(1, 4)]
    addresses = list(dict.fromkeys(addresses))[: rng.randint(1, 3)]
    return {
        **person,
        "phone": numbers[0] if numbers else None,
        "email": addresses[0] if addresses else None,
        "phones": [
            {"number": n, "type": "mobile", "primary": i == 0} for i, n in enumerate(numbers)
        ],
        "emails": [
            {"address": a, "type": "work", "primary": i == 0} for i, a in enumerate(addresses)
        ],
    }


def _engine_email_matches(contact: dict, text: str) -> dict[int, set[tuple[int, int]]]:
    """Oracle, written plainly: per address index, the spans the engine's email clause
    could mark (parts split like the email_parts tokenizer, exact or a prefix of at most
    20 characters, every part of a word found among the contact's addresses), within the
    highlighter's bound of MAX_TOKENS_PER_FIELD parts per address."""
    parsed = parse_query(text)
    addresses = [e["address"] for e in contact["emails"]]
    split = [
        [(m.start(), m.end(), fast.fold(m.group())) for m in re.finditer(r"[^@._+\-]+", a)][
            : fast.MAX_TOKENS_PER_FIELD
        ]
        for a in addresses
    ]
    found: dict[int, set[tuple[int, int]]] = {}
    for word in parsed.words:
        wanted = [fast.fold(p) for p in re.findall(r"[^@._+\-]+", word)]
        if not wanted or len(wanted) > fast.MAX_QUERY_PARTS:
            continue

        def hits(w):
            return [
                (i, s, min(s + len(w), e))
                for i, parts in enumerate(split)
                for s, e, p in parts
                if p == w or (len(w) <= 20 and p.startswith(w))
            ]

        if all(hits(w) for w in wanted):
            for w in wanted:
                for i, s, e in hits(w):
                    found.setdefault(i, set()).add((s, e))
    return found


def _spans(entry: dict) -> set[tuple[int, int]]:
    return {(s["start"], s["end"]) for s in entry["spans"]}


def test_secondary_entries_are_added_after_the_unchanged_old_ones_on_generated_inputs():
    rng = random.Random(41)
    people = [_with_methods(rng, p) for p in contacts(300, seed=41)]
    compared = secondary_seen = 0
    for contact in people:
        texts = _queries(rng, contact)
        for entry in contact["phones"][1:]:
            digits = entry["number"][1:]
            texts += [digits[-4:], entry["number"], digits[:5], f"0{digits[-10:]}", "١٢٣٤"]
        for entry in contact["emails"][1:]:
            local = entry["address"].split("@")[0]
            texts += [
                local[:3],
                local,
                local[:24],
                entry["address"],
                f"{local[:2]} zz",
                local.upper()[:4],
            ]
        texts += ["x" * 5000, "ab" * 60, "@", "-", "\u0000", rng.choice(HOSTILE)]
        for text in texts:
            parsed = parse_query(text)
            got = fast.highlights(contact, parsed)
            old = [h for h in got if h["field"] not in ("phones", "emails")]
            assert old == reference.highlights(contact, parsed), (text, contact)
            assert got[: len(old)] == old  # the new entries come after the old ones
            new = got[len(old) :]
            emails = _engine_email_matches(contact, text)
            for hl in new:
                entries = contact[hl["field"]]
                key = "number" if hl["field"] == "phones" else "address"
                assert 0 < hl["index"] < len(entries)
                assert hl["value"] == entries[hl["index"]][key]
                assert hl["value"] != contact["phone" if key == "number" else "email"]
                assert all(0 <= s < e <= len(hl["value"]) for s, e in _spans(hl))
                if hl["field"] == "phones":
                    slow = reference._phone_spans(hl["value"], fast._plan(parsed)[2])
                    assert hl["spans"] == fast._merge(slow)
                else:
                    assert hl["spans"] == fast._merge(list(emails[hl["index"]]))
                secondary_seen += 1
            marked = {hl["index"] for hl in new if hl["field"] == "emails"}
            primary = contact["emails"][0]["address"] if contact["emails"] else None
            wanted = {i for i in emails if contact["emails"][i]["address"] != primary}
            assert marked == wanted, (text, contact)
            compared += 1
    assert compared > 5000 and secondary_seen > 500


def test_stored_number_spans_equal_the_walk_over_every_character():
    rng = random.Random(7)
    for _ in range(5000):
        number = "+" + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 15)))
        digits = tuple(
            number[1:][rng.randint(0, 3) :][: rng.randint(1, 12)] or "1"
            for _ in range(rng.randint(1, 2))
        ) + (str(rng.randint(100, 99999)),)
        assert fast._phone_spans(number, digits) == reference._phone_spans(number, digits)
