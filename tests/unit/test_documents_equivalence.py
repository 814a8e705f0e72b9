"""The per-document fast paths give exactly what the code they replaced gave
(tests/unit/documents_reference.py): the document builder (sound codes remembered per
name, digit strings of ASCII E.164 without the regular expression, entries read in
place), new_contact and merge (the single-entry shapes of the phone and email lists
without settle's general pass). Compared on generated contacts: realistic names in
several locales, every shape of phone and email list, and hostile values (non-ASCII,
other scripts, Unicode digits, huge, empty, mixed scripts, names past the memo's
length), each twice so the memo answers the second time."""

from __future__ import annotations

import datetime
import random

import pytest

from app.contact_methods import EMAILS, PHONES, _with_primary, addresses_of, numbers_of
from app.errors import ApiError
from app.search import documents, names
from app.services.contact_rules import prepare_fields
from app.services.contacts import ContactService
from devtools.fakedata import contacts
from tests.unit import documents_reference as reference

HOSTILE_NAMES = [
    None,
    "",
    " ",
    "ß",
    "Straße",
    "Æsir Œuvre",
    "Łódź Đorđe",
    "O'Brien-Smith",
    "O\u2019Neill",
    "van der Berg",
    "_a_b_c_",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh ii",
    "x" * 300,
    "Jo" * 32,  # exactly the memo's length limit
    "Jo" * 33,  # one past it
    "李小龙",
    "Ελένη Παπαδοπούλου",
    "Анна-Мария",
    "\u0301\u0301e\u0301",
    "ｆｕｌｌｗｉｄｔｈ",
    "1st 2nd 3rd",
    "Mary-Ann\tSmith\n",
    "Zoë Ångström Ñúñez",
    "مريم",
    "José李Анна",
]
NUMBERS = [
    "+14155551234",
    "+442079460000",
    "+4930123456",
    "+85221234567",
    "+12125550100",
    "+1４１５５５５１２３４",  # Unicode digits: the general path
    "+٤٤٢٠٧٩٤٦٠٠٠٠",
    "+999123",  # no calling code: both raise
    "+",
    "14155551234",
    "+1 415 555 1234",
]
ADDRESSES = ["a@x.io", "ß@x.de", "x" * 80 + "@y.com", "Mixed@Case.COM", "李@例子.中国", ""]
TYPES = ["mobile", "work", "home", "other", None, ""]


def _outcome(function, *args):
    """What a call returns, or the type and text of what it raises."""
    try:
        return ("ok", function(*args))
    except (ApiError, ValueError, KeyError, TypeError) as exc:
        return ("raised", type(exc), getattr(exc, "details", None) or str(exc))


def _entries(rng: random.Random, kind, values: list[str]) -> list[dict]:
    picked = [rng.choice(values) for _ in range(rng.choice([0, 1, 1, 1, 2, 3, 5]))]
    entries = [
        {kind.key: value, "type": rng.choice(TYPES), "primary": rng.random() < 0.3}
        for value in picked
    ]
    if entries and rng.random() < 0.2:
        entries[0]["dnc"] = rng.choice([True, False, None])  # an annotated entry
    return entries


def _contacts(rng: random.Random) -> list[dict]:
    found = []
    for person in contacts(500, seed=18):
        found.append({**person, "id": "contact_x", "workspaceId": "ws_1", "dnc": None})
    for _ in range(500):
        contact = {
            "firstName": rng.choice(HOSTILE_NAMES),
            "lastName": rng.choice(HOSTILE_NAMES),
            "company": rng.choice(HOSTILE_NAMES),
            "notes": rng.choice(HOSTILE_NAMES),
            "tags": rng.choice([[], ["vip"], ["ß", "x" * 100]]),
            "customFields": rng.choice([{}, {"k": "v", "ü": 1}]),
            "externalId": rng.choice([None, "crm-1", "李"]),
            "dnc": rng.choice([True, False, None]),
        }
        shape = rng.random()
        if shape < 0.4:  # lists and the primary scalar, as stored
            contact["phones"] = _entries(rng, PHONES, NUMBERS)
            contact["emails"] = _entries(rng, EMAILS, ADDRESSES)
            contact["phone"] = next((e["number"] for e in contact["phones"]), None)
        elif shape < 0.8:  # a document written before the lists existed
            contact["phone"] = rng.choice([*NUMBERS, None, ""])
            contact["email"] = rng.choice([*ADDRESSES, None])
        found.append(contact)
    return found


def test_documents_equal_the_previous_builder_on_generated_and_hostile_contacts():
    rng = random.Random(18)
    compared = 0
    for contact in _contacts(rng) * 2:  # the second pass is answered by the name memo
        fast = _outcome(documents.to_document, contact)
        assert fast == _outcome(reference.to_document, contact), contact
        if fast[0] == "ok":
            assert list(fast[1]) == list(reference.to_document(contact))  # same key order
        compared += 1
    assert compared == 2000


def test_sound_codes_equal_the_previous_ones_and_the_memo_hands_out_fresh_lists():
    rng = random.Random(19)
    samples = HOSTILE_NAMES + [p["firstName"] for p in contacts(300, seed=19)]
    samples += ["".join(rng.choice("aeiouxyzßé'’_- 李1") for _ in range(rng.randint(0, 90)))]
    for name in samples * 2:
        assert names.sounds_of(name) == reference.sounds_of(name), name
    codes = names.sounds_of("Jonathan Smith")
    codes.append("mutated")
    assert names.sounds_of("Jonathan Smith") == reference.sounds_of("Jonathan Smith")


def test_phone_digit_strings_equal_the_previous_ones_including_unicode_digits():
    for number in [*NUMBERS, None, "", "+1" + "9" * 70]:
        fast = _outcome(documents.phone_variants, number)
        assert fast == _outcome(reference.phone_variants, number), number


def test_a_single_entry_change_of_the_primary_equals_the_general_pass():
    rng = random.Random(20)
    for _ in range(3000):
        kind = rng.choice([PHONES, EMAILS])
        values = NUMBERS if kind is PHONES else ADDRESSES
        entries = _entries(rng, kind, values)
        value = rng.choice([*values, None, ""] + [e[kind.key] for e in entries])
        fast = _outcome(_with_primary, [dict(e) for e in entries], value, kind)
        assert fast == _outcome(reference._with_primary, entries, value, kind), (entries, value)


def _writes(rng: random.Random) -> list[dict]:
    """Prepared create and PATCH fields: scalars, lists, both (agreeing or not), nulls."""
    found = []
    for person in contacts(300, seed=21):
        found.append(prepare_fields(person, "US"))
    for _ in range(700):
        write = {}
        for field in ("firstName", "lastName", "company"):
            if rng.random() < 0.5:
                write[field] = rng.choice(HOSTILE_NAMES)
        if rng.random() < 0.6:
            write["phone"] = rng.choice([n for n in NUMBERS if n.isascii()] + [None])
        if rng.random() < 0.3:
            write["phones"] = _entries(rng, PHONES, NUMBERS)
        if rng.random() < 0.6:
            write["email"] = rng.choice([*ADDRESSES, None])
        if rng.random() < 0.3:
            write["emails"] = _entries(rng, EMAILS, ADDRESSES)
        if rng.random() < 0.3:
            write["tags"] = rng.choice([[], None, ["a", "b"]])
        found.append(write)
    return found


def test_new_contacts_equal_the_previous_ones_apart_from_their_id_and_clock():
    rng = random.Random(21)
    for write in _writes(rng):
        prepared = {**write, "workspaceId": "ws_1"}
        fast = _outcome(ContactService.new_contact, None, prepared)
        slow = _outcome(lambda p: reference.new_contact(p, contact_id="c", now="t"), prepared)
        if fast[0] == "ok":
            fast[1].update(id="c", createdAt="t", updatedAt="t")
        assert fast == slow, write


def test_merges_equal_the_previous_ones_on_every_shape_of_list():
    rng = random.Random(22)
    stored = [c for c in _contacts(rng) if c.get("phones") is not None or c.get("phone")]
    for write in _writes(rng):
        current = rng.choice(stored)
        fast = _outcome(ContactService.merge, None, current, write)
        assert fast == _outcome(reference.merge, current, write), (current, write)


@pytest.mark.parametrize("name", ["Jo" * 32, "Jo" * 33, "x" * 10_000])
def test_names_past_the_memo_length_are_computed_and_not_remembered(name):
    names._remembered_sounds.cache_clear()
    assert names.sounds_of(name) == reference.sounds_of(name)
    assert names._remembered_sounds.cache_info().currsize == (1 if len(name) <= 64 else 0)


def test_timestamps_equal_the_datetime_text_of_the_same_instant(monkeypatch):
    rng = random.Random(23)
    instants = [0, 999, 1_000, 1_764_417_599_999, 1_764_417_600_000, 4_102_444_799_999]
    instants += [rng.randrange(0, 4_102_444_800_000) for _ in range(2000)]
    instants += [instants[-1] - 1, instants[-1] - 1500]  # the same second again; backwards
    for millis in instants:
        monkeypatch.setattr(documents.time, "time_ns", lambda m=millis: m * 1_000_000 + 999_999)
        moment = datetime.datetime.fromtimestamp(millis // 1000, datetime.UTC)
        moment = moment.replace(microsecond=millis % 1000 * 1000 + 999)
        expected = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert documents.utc_now() == expected, millis


def test_numbers_and_addresses_equal_the_values_of_the_copied_entries():
    for contact in _contacts(random.Random(24)):
        assert _outcome(numbers_of, contact) == _outcome(reference.numbers_of, contact)
        assert _outcome(addresses_of, contact) == _outcome(reference.addresses_of, contact)
