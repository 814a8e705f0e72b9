"""A bulk body written by app/search/bulk_bodies.py is byte for byte the body
opensearch-py sends for the same lines through the service's serializer (app/jsonio.py):
on generated contact documents and on hostile lines orjson alone refuses or writes
differently (non-string keys, datetimes, Decimals, integers beyond 64 bits, lone
surrogates, non-ASCII, huge strings, deep nesting)."""

from __future__ import annotations

import datetime
import decimal
import random

from opensearchpy.client.utils import _bulk_body

from app.jsonio import EngineSerializer
from app.search.bulk_bodies import BULK_REPLY, bulk_body
from app.search.documents import to_document
from app.services.contact_rules import prepare_fields
from app.services.contacts import ContactService
from devtools.fakedata import contacts

SERIALIZER = EngineSerializer()
HOSTILE_VALUES = [
    "",
    "ß李Ελένη\u0301",
    "x" * 100_000,
    "\ud800",  # a lone surrogate
    "line\nbreak\t\"quoted\"\\",
    2**64,
    -(2**63),
    1.5e300,
    0.1,
    True,
    None,
    [],
    {},
    {"nested": [{"deeper": [1, "two", None]}]},
    {1: "a non-string key"},
    datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC),
    datetime.date(2026, 11, 29),
    decimal.Decimal("1.10"),
]


def _client_body(lines: list) -> bytes:
    """What opensearch-py sends: its _bulk_body, then the transport's encoding."""
    return _bulk_body(SERIALIZER, lines).encode("utf-8", "surrogatepass")


def _documents() -> list[dict]:
    found = []
    for n, person in enumerate(contacts(300, seed=14)):
        contact = ContactService.new_contact(
            None, {**prepare_fields(person, "US"), "workspaceId": "ws_1"}
        )
        found.append(to_document({**contact, "notes": HOSTILE_VALUES[n % 6]}))
    return found


def test_contact_bulk_bodies_equal_the_clients_bytes():
    lines = []
    for n, document in enumerate(_documents()):
        lines.append({"create": {"_index": "contacts-v1", "_id": f"contact_{n}", "routing": "ws"}})
        lines.append(document)
    lines.append({"delete": {"_index": "contacts-v1", "_id": "contact_x", "routing": "ws"}})
    assert bulk_body(lines, SERIALIZER) == _client_body(lines)


def test_hostile_lines_are_written_as_the_client_wrote_them():
    rng = random.Random(7)
    for value in HOSTILE_VALUES:
        lines = [{"index": {"_id": "a"}}, {"customFields": {"v": value}, "notes": value}]
        assert bulk_body(lines, SERIALIZER) == _client_body(lines), value
    for _ in range(300):
        document = {f"f{k}": rng.choice(HOSTILE_VALUES) for k in range(rng.randint(0, 6))}
        lines = [{"index": {"_id": str(rng.random())}}, document]
        assert bulk_body(lines, SERIALIZER) == _client_body(lines), document


def test_serialized_lines_are_sent_as_they_are():
    lines = ['{"index":{}}', '{"a":"ß"}', {"index": {}}, {"b": 1}]
    assert bulk_body(lines, SERIALIZER) == _client_body(lines)
    assert bulk_body([], SERIALIZER) == _client_body([])


def test_the_reply_filter_keeps_what_writers_read():
    kept = set(BULK_REPLY.split(","))
    assert {"errors", "items.*.status", "items.*.error", "items.*._seq_no"} <= kept
    assert {"items.*._index", "items.*._id", "items.*._primary_term"} <= kept
