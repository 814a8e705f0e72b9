"""The change feed's ordering guarantees on the real servers: a follower walking the feed
while writers write (over HTTP, and across a zero-downtime reindex) sees every
acknowledged write exactly once, in an order that replays to the store's state; a write
in flight holds readers back; a stalled write is settled from the record; a Redis that
lost its memory never sends the sequence backwards."""

from __future__ import annotations

import random
import threading
import time
import uuid

from opensearchpy import helpers

from app.search.documents import to_document
from app.search.indices import drop_all, ensure_all
from app.search.reindex import reindex
from app.services.changes import ChangeLog
from app.services.contacts import ContactService
from tests.conftest import bearer

FEED = "/v1/contacts/changes"


class Follower(threading.Thread):
    """Tails a feed page by page (small pages) until stopped, then drains it."""

    def __init__(self, read_page) -> None:
        super().__init__(daemon=True)
        self.read_page = read_page  # cursor -> (events, next cursor, has_more)
        self.events: list[dict] = []
        self.stop = threading.Event()
        self.errors: list[Exception] = []
        self.cursor = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
            while self.step():
                pass
        except Exception as exc:  # noqa: BLE001 (asserted on)
            self.errors.append(exc)

    def step(self) -> bool:
        events, self.cursor, has_more = self.read_page(self.cursor)
        self.events += events
        if not events and not has_more:
            time.sleep(0.02)
        return has_more or bool(events)


def http_follower(client, auth, workspace: str, *, limit: int) -> Follower:
    """A Follower of the workspace's feed through HTTP, `limit` events a page."""

    def read_page(cursor):
        query = {"workspaceId": workspace, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get(FEED, headers=auth, query_string=query)
        assert page.status_code == 200, page.json
        return page.json["data"], page.json["meta"]["nextCursor"], page.json["meta"]["hasMore"]

    return Follower(read_page)


def replay(events: list[dict]) -> dict[str, str]:
    """id -> firstName after applying the events in order."""
    state: dict[str, str] = {}
    for event in events:
        if event["type"] == "contact.deleted":
            state.pop(event["contactId"], None)
        elif event["type"] in ("contact.created", "contact.updated"):
            state[event["contactId"]] = event["contact"]["firstName"]
    return state


def assert_each_write_once(events: list[dict], acked: list[tuple[str, str]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "repeated or out-of-order changes"
    assert len({e["id"] for e in events}) == len(events)
    for op, kind in (("create", "contact.created"), ("delete", "contact.deleted")):
        wanted = sorted(cid for o, cid in acked if o == op)
        seen = sorted(e["contactId"] for e in events if e["type"] == kind)
        assert seen == wanted, f"{op}: {len(seen)} changes for {len(wanted)} acknowledged"
    for contact_id in {cid for o, cid in acked if o == "update"}:
        updates = sum(1 for o, cid in acked if o == "update" and cid == contact_id)
        recorded = sum(
            1 for e in events if e["type"] == "contact.updated" and e["contactId"] == contact_id
        )
        assert recorded == updates, (contact_id, recorded, updates)


def http_writer(app, workspace, shared, acked, errors, seed) -> None:
    client, auth, rng = app.test_client(), bearer(workspace), random.Random(seed)
    own: list[str] = []
    for n in range(30):
        roll = rng.random()
        if roll < 0.4 or not own:
            body = {"workspaceId": workspace, "firstName": f"w{seed}n{n}"}
            response = client.post("/v1/contacts", headers=auth, json=body)
            op, contact_id = (
                "create",
                response.json["data"]["id"] if response.status_code == 201 else None,
            )
            own.append(contact_id)
        elif roll < 0.8:
            contact_id = rng.choice(shared + own)
            response = client.patch(
                f"/v1/contacts/{contact_id}", headers=auth, json={"firstName": f"w{seed}u{n}"}
            )
            op = "update"
        else:
            contact_id = own.pop(rng.randrange(len(own)))
            response = client.delete(f"/v1/contacts/{contact_id}", headers=auth)
            op = "delete"
        if response.status_code in (200, 201, 204):
            acked.append((op, contact_id))
        else:
            errors.append((op, response.status_code, response.get_data(as_text=True)[:200]))


def test_a_follower_during_concurrent_http_writes_sees_each_acknowledged_write_once(app, workspace):
    client, auth = app.test_client(), bearer(workspace)
    shared = []
    for name in ("s1", "s2", "s3"):
        response = client.post(
            "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": name}
        )
        shared.append(response.json["data"]["id"])
    acked = [("create", cid) for cid in shared]
    errors: list = []

    follower = http_follower(client, auth, workspace, limit=5)
    follower.start()
    writers = [
        threading.Thread(target=http_writer, args=(app, workspace, shared, acked, errors, seed))
        for seed in range(4)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
    follower.stop.set()
    follower.join(timeout=60)

    assert not errors, errors[:3]
    assert not follower.errors, follower.errors[:1]
    assert len(acked) == 3 + 4 * 30
    assert_each_write_once(follower.events, acked)
    stored = {}
    for contact_id in {cid for _, cid in acked}:
        found = client.get(f"/v1/contacts/{contact_id}", headers=auth)
        if found.status_code == 200:
            stored[contact_id] = found.json["data"]["firstName"]
    assert replay(follower.events) == stored


def test_a_write_in_flight_holds_readers_back_until_it_is_recorded(app, client, workspace):
    auth = bearer(workspace)
    changes = app.extensions["wiring"].changes
    # Writer A has announced its write and not recorded it yet ...
    slow = changes.begin(workspace, [["contact_slowwriter", "updated", None]])
    # ... while writer B's write is acknowledged.
    fast = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": "B"}
    )
    assert fast.status_code == 201

    held = client.get(FEED, headers=auth, query_string={"workspaceId": workspace})
    assert held.json["data"] == []  # B's change waits behind A: a cursor can't pass A
    changes.withdraw(workspace, slow)
    released = client.get(
        FEED,
        headers=auth,
        query_string={"workspaceId": workspace, "cursor": held.json["meta"]["nextCursor"]},
    )
    assert [e["contactId"] for e in released.json["data"]] == [fast.json["data"]["id"]]


def test_a_write_that_died_before_recording_is_settled_from_the_record(
    app, client, workspace, quick_settle
):
    auth = bearer(workspace)
    created = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": "Before"}
    )
    contact_id = created.json["data"]["id"]
    # A writer announces, changes the contact, and dies before recording its change.
    quick_settle.begin(workspace, [[contact_id, "updated", None]])
    app.extensions["opensearch"].update(
        index=f"{app.config['INDEX_PREFIX']}contacts-write",
        id=contact_id,
        routing=workspace,
        body={"doc": {"firstName": "After"}},
        refresh="false",
    )
    time.sleep(0.4)

    events, _ = quick_settle.events_after(workspace, 0, 100)

    assert [(e["type"], e["contact"]["firstName"]) for e in events] == [
        ("contact.created", "Before"),
        ("contact.updated", "After"),
    ]


def test_after_redis_loses_the_sequence_it_resumes_above_the_log_and_no_change_repeats(
    app, client, workspace, quick_settle
):
    auth = bearer(workspace)
    for name in ("one", "two"):
        client.post(
            "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": name}
        )
    before, last = quick_settle.events_after(workspace, 0, 100)
    wiring = app.extensions["wiring"]
    wiring.redis.delete(*quick_settle.sequence.keys(workspace))  # Redis lost the workspace

    third = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": "three"}
    )
    assert third.status_code == 201
    # Readers wait out the writes that were in flight when Redis lost its memory.
    assert quick_settle.events_after(workspace, last, 100)[0] == []
    time.sleep(0.4)
    after, _ = quick_settle.events_after(workspace, last, 100)

    assert [e["contact"]["firstName"] for e in before] == ["one", "two"]
    assert [e["contact"]["firstName"] for e in after] == ["three"]
    assert after[0]["seq"] > before[-1]["seq"]


def test_a_follower_during_a_zero_downtime_contacts_reindex_sees_each_write_once(app):
    client, cache = app.extensions["opensearch"], app.extensions["redis"]
    prefix = f"{app.config['INDEX_PREFIX']}cf{uuid.uuid4().hex[:6]}-"
    redis_prefix = f"{app.config['REDIS_KEY_PREFIX']}cf:"
    ensure_all(client, prefix)
    try:
        changes = ChangeLog(client, cache, prefix, redis_prefix, cursor_key="k" * 32)
        service = ContactService(client, prefix, changes=changes)
        workspace = "ws_feed_reindex"
        seeded = [
            service.prepare_new({"workspaceId": workspace, "firstName": f"seed{i}"})
            for i in range(4000)
        ]
        helpers.bulk(
            client,
            (
                {
                    "_index": service.names.write,
                    "_id": c["id"],
                    "_routing": workspace,
                    "_source": to_document(c),
                }
                for c in seeded
            ),
            chunk_size=2000,
            refresh="wait_for",
        )

        def read_page(cursor):
            events, last = changes.events_after(workspace, cursor or 0, 7)
            return events, last, last < changes.head(workspace)

        follower = Follower(read_page)
        acked: list[tuple[str, str]] = []
        stop = threading.Event()
        rng = random.Random(5)
        live = [c["id"] for c in seeded[:200]]

        def write() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                roll = rng.random()
                if roll < 0.4:
                    created = service.create({"workspaceId": workspace, "firstName": f"new{n}"})
                    live.append(created.contact["id"])
                    acked.append(("create", created.contact["id"]))
                elif roll < 0.8:
                    contact_id = rng.choice(live)
                    service.update(contact_id, [workspace], {"firstName": f"upd{n}"})
                    acked.append(("update", contact_id))
                else:
                    contact_id = live.pop(rng.randrange(len(live)))
                    service.delete(contact_id, [workspace])
                    acked.append(("delete", contact_id))

        writer = threading.Thread(target=write, daemon=True)
        follower.start()
        writer.start()
        try:
            result = reindex(
                client, cache, prefix, redis_prefix, "contacts", requests_per_second=2000
            )
        finally:
            stop.set()
            writer.join(timeout=60)
            follower.stop.set()
            follower.join(timeout=60)

        assert result.caught_up > 0  # writes landed mid-copy
        assert not follower.errors, follower.errors[:1]
        assert len(acked) > 30
        assert_each_write_once(follower.events, acked)
    finally:
        drop_all(client, prefix)
