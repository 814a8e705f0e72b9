"""A bulk body written by app/search/bulk_bodies.py is byte for byte the body
opensearch-py sends for the same lines through the service's serializer (app/jsonio.py):
on generated contact documents and on hostile lines orjson alone refuses or writes
differently (non-string keys, datetimes, Decimals, integers beyond 64 bits, lone
surrogates, non-ASCII, huge strings, deep nesting)."""

from __future__ import annotations

import datetime
import decimal
import json
import random

import pytest
from opensearchpy import TransportError, helpers
from opensearchpy.client.utils import _bulk_body

from app.jsonio import EngineSerializer
from app.search.bulk_bodies import BULK_REPLY, bulk_body, bulk_items
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
    'line\nbreak\t"quoted"\\',
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


def _encodable_documents() -> list[dict]:
    # streaming_bulk measured each line as strict UTF-8: a lone surrogate (which request
    # parsing refuses, so no stored value holds one) made it raise.
    return [d for d in _documents() if d["notes"] != "\ud800"]


class ScriptedEngine:
    """Records each bulk body and answers each item by a script: 429 (overloaded) for
    the items whose id is listed for that attempt, else 201; a whole request refused
    with 429 where scripted. A real node cannot be made to refuse on demand."""

    def __init__(self, refusals: list[set[str]], whole: set[int] = frozenset()) -> None:
        self.transport = type("Transport", (), {"serializer": SERIALIZER})()
        self.refusals, self.whole, self.bodies = refusals, whole, []

    def bulk(self, body=None, *args, **kwargs):
        body = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        attempt = len(self.bodies)
        self.bodies.append(body)
        if attempt in self.whole:
            raise TransportError(429, "rejected", {})
        refused = self.refusals[attempt] if attempt < len(self.refusals) else set()
        items = []
        for line in body.splitlines():
            parsed = json.loads(line)
            if len(parsed) == 1 and next(iter(parsed)) in ("create", "index", "delete"):
                op, meta = next(iter(parsed.items()))
                status = 429 if meta["_id"] in refused else 201
                items.append({op: {"_id": meta["_id"], "status": status}})
        return {
            "errors": any(next(iter(i.values()))["status"] > 300 for i in items),
            "items": items,
        }


@pytest.mark.parametrize(
    "refusals, whole",
    [
        ([], set()),
        ([{"c1", "c3"}], set()),
        ([{"c1", "c3"}, {"c3"}, {"c3"}, {"c3"}], set()),  # still refused after the retries
        ([set()], {0}),  # the whole first request refused
        ([], {0, 1, 2, 3}),  # refused every time: raised
    ],
)
def test_bulk_items_send_and_retry_as_streaming_bulk_did(refusals, whole):
    documents = _encodable_documents()[:6]
    actions = [
        {"_op_type": "index", "_index": "c", "_id": f"c{n}", "routing": "ws", "_source": doc}
        for n, doc in enumerate(documents)
    ]
    actions.append({"_op_type": "delete", "_index": "c", "_id": "c9", "routing": "ws"})
    ours, theirs = ScriptedEngine(refusals, whole), ScriptedEngine(refusals, whole)
    try:
        results = [
            (200 <= next(iter(i.values()))["status"] < 300, i)
            for i in bulk_items(ours, actions, retries=3, backoff=0)
        ]
    except TransportError as exc:
        results = ("raised", exc.status_code)
    try:
        expected = list(
            helpers.streaming_bulk(
                theirs,
                actions,
                chunk_size=len(actions),
                raise_on_error=False,
                max_retries=3,
                initial_backoff=0,
            )
        )
    except TransportError as exc:
        expected = ("raised", exc.status_code)
    assert ours.bodies == theirs.bodies
    if isinstance(expected, tuple):
        assert results == expected
    else:
        key = lambda pair: next(iter(pair[1].values()))["_id"]  # noqa: E731
        assert sorted(results, key=key) == sorted(expected, key=key)


def test_bulk_items_split_a_body_past_the_size_limit_as_streaming_bulk_did():
    actions = [
        {"_op_type": "index", "_index": "c", "_id": f"c{n}", "_source": doc}
        for n, doc in enumerate(_encodable_documents()[:40])
    ]
    ours, theirs = ScriptedEngine([]), ScriptedEngine([])
    bulk_items(ours, actions, max_bytes=5_000)
    list(helpers.streaming_bulk(theirs, actions, chunk_size=40, max_chunk_bytes=5_000))
    assert len(ours.bodies) > 3 and ours.bodies == theirs.bodies
