"""A contact's change document built in one pass (change_data, then contact_change using
it as built) is exactly the one the feed built before: from_source, then a second copy
of every CONTACT_FIELDS value (frozen in tests/unit/change_records_reference.py). Equal
as values, in the same key order and as the same bytes on the wire (the change feed's
bulk body and the client's serializer), or the same exception, on stored documents of
generated contacts and on hostile ones: every field present and absent, None, empty,
nested lists and dicts, non-ASCII, huge values, entries with extra keys, values of the
wrong type. And the change owns its data: no list or dict of it is one of the source's."""

from __future__ import annotations

import random

import orjson

from app.jsonio import EngineSerializer
from app.search.bulk_bodies import bulk_body
from app.search.documents import CONTACT_FIELDS, to_document
from app.services.change_records import change_data, contact_change
from app.services.contact_rules import prepare_fields
from app.services.contacts import ContactService
from devtools.fakedata import contacts
from tests.unit import change_records_reference as reference

NOW = "2026-11-29T15:00:00.123Z"
SERIALIZER = EngineSerializer()
HUGE = "ü" * 200_000
TEXTS = [None, "", " ", "Zoë Ångström", "李小龙", "مريم", "\u0301e", "x" * 5_000, HUGE]
ODD = [0, -1, 2**63, 1.5, True, False, [], {}, [[1, [2, ["deep"]]]], {"a": {"b": [1, None]}}]
NUMBERS = ["+14155551234", "+442079460000", "+1４１５", "", None, "x" * 300]
ADDRESSES = ["a@x.io", "李@例子.中国", "Mixed@Case.COM", "", None]


def _entries(rng: random.Random, key: str, values: list) -> object:
    shape = rng.random()
    if shape < 0.15:
        return rng.choice([None, [], "", {}])
    if shape < 0.2:
        return rng.choice(["+14155551234", [["ab"]], [{"nested": [{"deep": True}]}]])
    entries = []
    for _ in range(rng.choice([1, 1, 2, 3, 20])):
        entry = {key: rng.choice(values), "type": rng.choice(["mobile", "other", None, "ü"])}
        entry["primary"] = rng.choice([True, False, None])
        if rng.random() < 0.2:
            entry["dnc"] = rng.choice([True, False, None])  # an annotated entry
        if rng.random() < 0.1:
            entry = {k: v for k, v in entry.items() if rng.random() < 0.5}
        entries.append(entry)
    return entries


def _value(rng: random.Random, field: str, rng_values: list) -> object:
    if field in ("phones", "emails"):
        key, values = ("number", NUMBERS) if field == "phones" else ("address", ADDRESSES)
        return _entries(rng, key, values)
    if field == "tags" and rng.random() < 0.5:
        return rng.choice([None, [], ["vip", "Zoë"], ["x" * 1_000] * 50, [["nested"]], "tag"])
    if field == "customFields" and rng.random() < 0.5:
        return rng.choice([None, {}, {"k": "v", "ü": 1, "n": None}, {"deep": {"a": [1]}}, "x"])
    return rng.choice(rng_values)


def _stored_documents() -> list[dict]:
    """What the writers store (to_document of new and merged contacts) and what the
    engine answers for them (a JSON round trip without the index-only fields)."""
    found = []
    for n, person in enumerate(contacts(400, seed=14)):
        item = {**person, "externalId": f"crm-{n}" if n % 3 else None, "source": "bench"}
        if n % 4 == 0:
            item["tags"], item["customFields"] = ["Zoë", "vip"], {"tier": "gold", "n": n}
        if n % 5 == 0:
            item["phones"] = [
                {"number": f"+1415555{n:04d}", "type": "mobile"},
                {"number": f"+44 20 7946 {n:04d}", "type": "work", "primary": True},
            ]
            item.pop("phone", None)
        prepared = {**prepare_fields(item, "US"), "workspaceId": "ws_1"}
        contact = ContactService.new_contact(None, prepared)
        contact["dnc"] = n % 2 == 0
        document = to_document(contact)
        found.append(document)
        read = orjson.loads(orjson.dumps(document))
        for field in ("phoneDigits", "fullNameExact"):
            read.pop(field)
        found.append(read)
        if n % 7 == 0:
            changes = prepare_fields({"notes": "again", "phone": None, "tags": None}, "US")
            found.append(to_document(ContactService.merge(None, contact, changes)))
    return found


def _hostile_documents(rng: random.Random) -> list[dict]:
    values = TEXTS + ODD
    full = {field: "v" for field in CONTACT_FIELDS}
    found = [{}, {"unrelated": [1, {"x": None}]}]
    for field in CONTACT_FIELDS:  # each field alone, and each missing from a full document
        found.append({field: _value(rng, field, values)})
        found.append({k: v for k, v in full.items() if k != field})
    for _ in range(3_000):
        document = {
            field: _value(rng, field, values)
            for field in CONTACT_FIELDS
            if rng.random() < rng.choice([0.2, 0.5, 0.9])
        }
        if rng.random() < 0.3:  # index-only and derived fields the change never shows
            document.update(phoneDigits=["1415"], fullNameExact="a b", dnc=True, kind="x")
        found.append(document)
    return found


def _outcome(function, *args):
    """What a call returns, or the type of what it raises."""
    try:
        return ("ok", function(*args))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return ("raised", type(exc))


def _new_doc(source: dict) -> dict:
    return contact_change("contact_1", "created", change_data(source), NOW)


def _old_doc(source: dict) -> dict:
    return reference.contact_change("contact_1", "created", reference.from_source(source), NOW)


def _wire(doc: dict) -> tuple:
    """The bytes the feed's bulk body holds for it, and the client serializer's text."""
    line = {"workspaceId": "ws_1", "kind": "change", "seq": 7, **doc}
    return (
        _outcome(bulk_body, [{"index": {"_id": "ws_1:7"}}, line], SERIALIZER),
        _outcome(SERIALIZER.dumps, line),
    )


def _assert_same_change(source: dict) -> None:
    new, old = _outcome(_new_doc, source), _outcome(_old_doc, source)
    assert new == old, source
    if new[0] == "ok":
        assert list(new[1]["data"]) == list(old[1]["data"]) == list(CONTACT_FIELDS)
        assert _wire(new[1]) == _wire(old[1]), source


def test_change_documents_of_written_contacts_are_the_previous_ones_byte_for_byte():
    documents = _stored_documents()
    assert len(documents) > 800
    for source in documents:
        _assert_same_change(source)


def test_change_documents_of_hostile_stored_documents_are_the_previous_ones_or_fail_alike():
    rng = random.Random(1418)
    raised = 0
    for source in _hostile_documents(rng):
        _assert_same_change(source)
        raised += _outcome(_old_doc, source)[0] == "raised"
    assert raised > 0  # the malformed entries were really generated, and fail the same


def test_change_data_shares_no_list_or_dict_with_the_stored_document():
    for source in _stored_documents():
        data = change_data(source)
        before = _wire(contact_change("contact_1", "updated", data, NOW))
        ours = [data, data["tags"], data["customFields"], *data["phones"], *data["emails"]]
        ours += [data["phones"], data["emails"]]
        theirs = [source, source.get("tags"), source.get("customFields")]
        for kind in ("phones", "emails"):
            theirs += [source.get(kind), *(source.get(kind) or [])]
        assert not {id(x) for x in ours} & {id(x) for x in theirs if x is not None}
        # The writer going on with its documents never reaches the change.
        for entry in source.get("phones") or []:
            entry["dnc"] = True
        source.get("tags", []).append("later")
        source.get("customFields", {})["later"] = 1
        assert _wire(contact_change("contact_1", "updated", data, NOW)) == before


def test_change_data_of_change_data_is_the_same_data_and_a_fresh_copy():
    """What a second change of one contact in one write gets (contact_documents)."""
    for source in [*_stored_documents(), *_hostile_documents(random.Random(1419))]:
        first = _outcome(change_data, source)
        if first[0] != "ok":
            continue
        again = change_data(first[1])
        assert again == first[1] and list(again) == list(first[1])
        assert again is not first[1] and again["phones"] is not first[1]["phones"]
