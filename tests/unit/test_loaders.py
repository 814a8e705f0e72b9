"""The precompiled item loaders (app/schemas/loaders.py) answer exactly what the
marshmallow schemas answer: the same loaded dict, or the same error messages, for valid,
invalid and hostile items alike."""

from __future__ import annotations

import random

import pytest
from marshmallow import ValidationError

from app.schemas import loaders
from app.schemas.batch import (
    CreateItemSchema,
    RefItemSchema,
    UpdateItemSchema,
    UpsertItemSchema,
)
from app.schemas.contacts import ContactCreateSchema, ContactUpdateSchema
from devtools.fakedata import contacts

SCHEMAS = [CreateItemSchema, UpdateItemSchema, UpsertItemSchema, ContactCreateSchema]
LENGTHS = (0, 1, 2, 63, 64, 65, 100, 101, 199, 200, 201, 254, 255, 256, 1000, 1001, 10_001)
NESTED = {"a": {"b": {"c": [{"d": [1, {"e": None}]}]}}}
# Values any field may be handed: wrong types, edges of every length rule, non-ASCII,
# control characters, lone surrogates (valid JSON), deep nesting.
HOSTILE = [
    None,
    "",
    " ",
    " padded ",
    "Zoë 山田 Ωμέγα",
    "tab\tin",
    "nul\x00",
    "\ud800",
    "e\u0301",
    "ws_ok",
    "ws_bad!",
    "US",
    "us",
    "USA",
    "+14155551234",
    "(415) 555-1234",
    "jane@acme.com",
    "Jane@Acme.COM",
    "not an email",
    "a@b",
    "mobile",
    "work",
    "fax",
    "true",
    "yes",
    "1",
    0,
    1,
    -1,
    2**70,
    1.5,
    float("nan"),
    True,
    False,
    [],
    ["a"],
    [None],
    {},
    {"k": "v"},
    NESTED,
    b"bytes",
    *("x" * n for n in LENGTHS),
    *("é" * n for n in (64, 65, 255, 256)),
]


def outcome(load, item) -> tuple:
    try:
        return "ok", load(item)
    except ValidationError as exc:
        return "error", exc.messages


def phone_entry(rng: random.Random) -> object:
    entry = {"number": rng.choice(["+14155551234", "(212) 555-0100", "12"])}
    if rng.random() < 0.5:
        entry["type"] = rng.choice(["mobile", "work", "other", "fax", 3, None])
    if rng.random() < 0.5:
        entry["primary"] = rng.choice([True, False, "true", 1, None, "maybe"])
    if rng.random() < 0.1:
        entry[rng.choice(["number", "extra", "dnc"])] = rng.choice(HOSTILE)
    if rng.random() < 0.05:
        del entry["number"]
    return entry if rng.random() < 0.95 else rng.choice(HOSTILE)


def email_entry(rng: random.Random) -> object:
    entry = {"address": rng.choice(["jane@acme.com", "x@y.example", "bad", "a" * 250 + "@x.io"])}
    if rng.random() < 0.5:
        entry["type"] = rng.choice(["work", "home", "mobile", None])
    if rng.random() < 0.5:
        entry["primary"] = rng.choice([True, False, "no", 0])
    if rng.random() < 0.1:
        entry["unknown"] = 1
    return entry if rng.random() < 0.95 else rng.choice(HOSTILE)


def list_value(rng: random.Random, make) -> object:
    size = rng.choice([0, 1, 2, 3, 20, 21, 50, 51])
    return [make(rng) for _ in range(size)]


def custom_fields(rng: random.Random) -> object:
    size = rng.choice([0, 1, 3, 50, 51])
    choices = ["v", 1, 2.5, True, None, "x" * 1001, [1], {}]
    value = {f"k{n}": rng.choice(choices) for n in range(size)}
    if rng.random() < 0.1:
        value[rng.choice(["", "k" * 65, "ключ"])] = "v"
    return value


def mutated(rng: random.Random, base: dict) -> object:
    """A copy of a valid item with a few fields replaced by something generated."""
    item = dict(base)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        name = rng.choice(
            [
                "firstName",
                "lastName",
                "company",
                "phone",
                "email",
                "notes",
                "source",
                "externalId",
                "defaultCountry",
                "workspaceId",
                "id",
                "tags",
                "phones",
                "emails",
                "customFields",
                "unknownField",
                "createdAt",
            ]
        )
        roll = rng.random()
        if name == "tags" and roll < 0.7:
            item[name] = list_value(rng, lambda r: r.choice(["vip", "", "t" * 65, None, 3, "Zoë"]))
        elif name == "phones" and roll < 0.7:
            item[name] = list_value(rng, phone_entry)
        elif name == "emails" and roll < 0.7:
            item[name] = list_value(rng, email_entry)
        elif name == "customFields" and roll < 0.7:
            item[name] = custom_fields(rng)
        elif roll < 0.1:
            item.pop(name, None)
        else:
            item[name] = rng.choice(HOSTILE)
    if rng.random() < 0.02:
        return rng.choice(HOSTILE)
    return item


def generated_items(schema, count: int, seed: int) -> list:
    """Valid items of `schema` (its own fields only), and mutations of them."""
    rng = random.Random(seed)
    items = []
    for n, person in enumerate(contacts(count, seed=seed)):
        base = {**person, "workspaceId": "ws_gen", "id": f"contact_{n}", "externalId": f"x-{n}"}
        if n % 3 == 0:
            base["phones"] = [{"number": person["phone"], "type": "mobile", "primary": True}]
            base["emails"] = [{"address": person["email"]}]
            base["customFields"] = {"plan": "gold", "seats": 3, "trial": False, "ratio": 0.5}
            base["defaultCountry"] = "GB"
            base["source"] = "crm"
            base["notes"] = "Interested in premium plan"
        base = {k: v for k, v in base.items() if k in schema.load_fields}
        items.append(base if n % 4 == 0 else mutated(rng, base))
    return items


@pytest.mark.parametrize("schema_class", SCHEMAS, ids=lambda s: s.__name__)
def test_the_compiled_loader_answers_exactly_what_the_schema_answers(schema_class):
    schema = schema_class()
    load = loaders.compile_loader(schema)
    fast = loaders._compile_schema(schema)
    taken = 0
    for item in generated_items(schema, 3_000, seed=14):
        expected = outcome(schema.load, item)
        assert outcome(load, item) == expected, item
        try:
            fast(item)
            taken += 1
        except loaders._Defer:
            pass
    # The fast path really carries the valid items, it does not defer everything.
    assert taken > 1_000


@pytest.mark.parametrize("schema_class", SCHEMAS, ids=lambda s: s.__name__)
def test_every_item_the_fast_path_takes_is_one_the_schema_loads_the_same(schema_class):
    schema = schema_class()
    fast = loaders._compile_schema(schema)
    for item in generated_items(schema, 3_000, seed=18):
        try:
            loaded = fast(item)
        except loaders._Defer:
            continue
        assert schema.load(item) == loaded


def test_a_schema_with_load_hooks_it_cannot_mirror_keeps_marshmallow():
    schema = ContactUpdateSchema()
    assert loaders.compile_loader(schema) == schema.load


def test_defaults_of_nested_entries_are_filled_as_the_schema_fills_them():
    load = loaders.compile_loader(CreateItemSchema())
    loaded = load({"phones": [{"number": "+14155551234"}]})
    assert loaded == {"phones": [{"number": "+14155551234", "type": "other", "primary": False}]}


def test_an_invalid_item_raises_the_schemas_own_messages():
    load = loaders.compile_loader(UpsertItemSchema())
    with pytest.raises(ValidationError) as raised:
        load({"firstName": "x" * 201, "tags": [""], "bogus": {"deep": NESTED}})
    assert raised.value.messages == {
        "firstName": ["Longer than maximum length 200."],
        "tags": {0: ["Length must be between 1 and 64."]},
        "bogus": ["Unknown field."],
    }


def test_the_reference_loader_answers_what_the_schema_answers():
    schema, load = RefItemSchema(), loaders.compile_loader(RefItemSchema)
    rng = random.Random(7)
    items = [{"id": "contact_abc"}, {"externalId": "crm-1"}, {"id": "a", "externalId": "b"}, {}]
    for _ in range(2_000):
        item = dict(rng.choice(items[:2]))
        for _ in range(rng.choice([0, 0, 1, 2])):
            item[rng.choice(["id", "externalId", "other"])] = rng.choice(HOSTILE)
        items.append(item if rng.random() < 0.98 else rng.choice(HOSTILE))
    for item in items:
        assert outcome(load, item) == outcome(schema.load, item), item
