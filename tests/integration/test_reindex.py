"""Reindex against the real OpenSearch and Redis: no write made during it is lost."""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from opensearchpy import helpers

from app.errors import ApiError
from app.search.indices import IndexNames, current_index, drop_all, ensure_all
from app.search.reindex import (
    ReindexInProgress,
    lock_key,
    reindex,
    reindex_lock,
    rollback,
)
from app.search.reindex_steps import ReindexError
from app.services.contacts import ContactService
from devtools.fakedata import contacts as fake_contacts

SEEDED = 12_000
WORKSPACES = [f"ws_rx{n}" for n in range(4)]


@pytest.fixture
def env(app):
    """Indices under their own prefix, so swapping aliases here never disturbs other tests."""
    client = app.extensions["opensearch"]  # the API's client: it retries during the freeze
    prefix = f"{app.config['INDEX_PREFIX']}rx{uuid.uuid4().hex[:6]}-"
    ensure_all(client, prefix)
    service = ContactService(client, prefix)
    yield client, app.extensions["redis"], prefix, app.config["REDIS_KEY_PREFIX"], service
    drop_all(client, prefix)


def seed(client, service: ContactService, count: int) -> list[dict]:
    rows = []
    for n, row in enumerate(fake_contacts(count, seed=7)):
        rows.append(service.prepare_new({"workspaceId": WORKSPACES[n % len(WORKSPACES)], **row}))
    from app.search.documents import to_document

    actions = (
        {
            "_index": service.names.write,
            "_id": c["id"],
            "_routing": c["workspaceId"],
            "_source": to_document(c),
        }
        for c in rows
    )
    helpers.bulk(client, actions, chunk_size=2000, refresh="wait_for")
    return rows


class Writer(threading.Thread):
    """Creates, updates and deletes through the service until stopped; remembers the truth."""

    def __init__(self, service: ContactService, ids: list[tuple[str, str]]) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.live = dict(ids)  # id -> workspace
        self.expected: dict[str, str | None] = {}  # id -> firstName, None when deleted
        self.errors: list[Exception] = []
        self.ops = 0
        self.stop = threading.Event()
        self.rng = random.Random(3)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.step()
                self.ops += 1
            except Exception as exc:  # noqa: BLE001 (collected and asserted on)
                self.errors.append(exc)

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.4 or len(self.live) < 10:
            ws = self.rng.choice(WORKSPACES)
            name = f"New{self.ops}"
            created = self.service.create({"workspaceId": ws, "firstName": name})
            self.live[created.contact["id"]] = ws
            self.expected[created.contact["id"]] = name
            return
        contact_id = self.rng.choice(list(self.live))
        ws = self.live[contact_id]
        if roll < 0.8:
            name = f"Upd{self.ops}"
            self.service.update(contact_id, [ws], {"firstName": name})
            self.expected[contact_id] = name
        else:
            self.service.delete(contact_id, [ws])
            del self.live[contact_id]
            self.expected[contact_id] = None


def test_writes_updates_and_deletes_during_a_reindex_are_kept(env):
    client, cache, prefix, redis_prefix, service = env
    rows = seed(client, service, SEEDED)
    names = IndexNames(prefix, "contacts")
    writer = Writer(service, [(c["id"], c["workspaceId"]) for c in rows])
    writer.start()
    try:
        # Throttled so the copy takes a few seconds and the writer overlaps every phase.
        result = reindex(client, cache, prefix, redis_prefix, "contacts", requests_per_second=4000)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert not writer.errors, writer.errors[:3]
    assert result.target == names.version(2)
    assert current_index(client, names) == names.version(2)
    assert result.caught_up > 0  # writes did land in the old index mid-copy
    assert writer.ops > 50

    client.indices.refresh(index=names.read)
    assert client.count(index=names.read)["count"] == len(writer.live)
    for contact_id, name in writer.expected.items():
        if name is None:
            with pytest.raises(ApiError):
                service.get(contact_id, WORKSPACES)
        else:
            assert service.get(contact_id, WORKSPACES).contact["firstName"] == name
    # The old version is kept (for rollback) and writable again.
    settings = client.indices.get_settings(index=names.version(1))
    assert settings[names.version(1)]["settings"]["index"]["blocks"]["write"] == "false"


def test_rollback_copies_back_writes_made_after_the_swap(env):
    client, cache, prefix, redis_prefix, service = env
    seed(client, service, 300)
    names = IndexNames(prefix, "contacts")
    reindex(client, cache, prefix, redis_prefix, "contacts")
    after_swap = service.create({"workspaceId": WORKSPACES[0], "firstName": "AfterSwap"})

    result = rollback(client, cache, prefix, redis_prefix, "contacts")

    assert (result.source, result.target) == (names.version(2), names.version(1))
    assert current_index(client, names) == names.version(1)
    got = service.get(after_swap.contact["id"], WORKSPACES)
    assert got.contact["firstName"] == "AfterSwap"
    # A reindex after a rollback never reuses the version it left behind.
    again = reindex(client, cache, prefix, redis_prefix, "contacts", delete_old=True)
    assert again.target == names.version(3)
    assert not client.indices.exists(index=names.version(1))


def test_two_runs_cannot_overlap_and_dry_run_changes_nothing(env):
    client, cache, prefix, redis_prefix, service = env
    names = IndexNames(prefix, "contacts")
    with reindex_lock(cache, lock_key(redis_prefix, names)):
        with pytest.raises(ReindexInProgress):
            reindex(client, cache, prefix, redis_prefix, "contacts")
    assert lock_key(redis_prefix, names).startswith(redis_prefix)

    plan = reindex(client, cache, prefix, redis_prefix, "contacts", dry_run=True)
    assert plan.dry_run and plan.target == names.version(2)
    assert not client.indices.exists(index=names.version(2))
    with pytest.raises(ReindexError):
        rollback(client, cache, prefix, redis_prefix, "contacts")


def test_a_reindex_computes_the_name_sounds_that_older_documents_lack(env):
    """Documents written before the sound codes existed get them in the next version."""
    client, cache, prefix, redis_prefix, service = env
    contact = service.prepare_new({"workspaceId": WORKSPACES[0], "firstName": "Geoff"})
    from app.search.documents import to_document

    old = {k: v for k, v in to_document(contact).items() if not k.endswith("Sounds")}
    client.index(
        index=service.names.write,
        id=contact["id"],
        routing=contact["workspaceId"],
        body=old,
        refresh=True,
    )
    reindex(client, cache, prefix, redis_prefix, "contacts")
    stored = client.get(index=service.names.read, id=contact["id"], routing=WORKSPACES[0])
    assert stored["_source"]["firstNameSounds"] == ["JF"]


def test_a_reindex_gives_documents_older_than_the_lists_their_phones_and_emails(env):
    """A document with only `phone` / `email` (written before the lists existed) gets them
    as one primary entry each, and becomes findable by the fields built from them."""
    client, cache, prefix, redis_prefix, service = env
    seed_fields = {"firstName": "Old", "phone": "+14155550190", "email": "old.timer@example.com"}
    contact = service.prepare_new({"workspaceId": WORKSPACES[0], **seed_fields})
    from app.search.documents import to_document

    derived = ("phones", "emails", "emailAddresses")
    old = {k: v for k, v in to_document(contact).items() if k not in derived}
    client.index(
        index=service.names.write,
        id=contact["id"],
        routing=contact["workspaceId"],
        body=old,
        refresh=True,
    )
    untouched = service.prepare_new({"workspaceId": WORKSPACES[0], "firstName": "NoPhone"})
    client.index(
        index=service.names.write,
        id=untouched["id"],
        routing=untouched["workspaceId"],
        body=to_document(untouched),
        refresh=True,
    )

    reindex(client, cache, prefix, redis_prefix, "contacts")

    stored = client.get(index=service.names.read, id=contact["id"], routing=WORKSPACES[0])
    source = stored["_source"]
    assert source["phones"] == [{"number": "+14155550190", "type": "other", "primary": True}]
    assert source["emails"] == [
        {"address": "old.timer@example.com", "type": "other", "primary": True}
    ]
    assert source["emailAddresses"] == ["old.timer@example.com"]
    found = client.search(
        index=service.names.read,
        body={"query": {"term": {"phones.number": "+14155550190"}}},
    )
    assert [hit["_id"] for hit in found["hits"]["hits"]] == [contact["id"]]
    read = service.get(contact["id"], WORKSPACES, annotate=False).contact
    assert read["phones"][0]["number"] == read["phone"] == "+14155550190"
    plain = client.get(index=service.names.read, id=untouched["id"], routing=WORKSPACES[0])
    assert plain["_source"]["phones"] == [] and plain["_source"]["emails"] == []
