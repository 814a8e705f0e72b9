"""The change feed of batch writes, recorded from the documents the bulk stored
(app/services/changes.py, `written`) instead of read back: the same change documents as
the read-back, on generated and hostile contacts, and the same order guarantee when
calls race on the same contacts."""

from __future__ import annotations

import random
import threading

from app.search.documents import CONTACT_FIELDS
from tests.api.test_changes import spy_full_reads, walk

BATCH = "/v1/contacts/batch"
NAMES = ["Zoë", "山田", "Ωμέγα", "O'Brien", "José María", "  spaced  ", "x" * 200, "Ａｎｎａ"]


def changes_log(app):
    return app.extensions["wiring"].changes


def generated(rng: random.Random, n: int) -> dict:
    """A contact with the shapes a document can take: non-ASCII and edge-length text, several
    numbers and addresses, custom fields of every scalar type, tags."""
    item = {
        "externalId": f"gen-{n}-{rng.choice(['ä', 'x', '山', 'id with inner  spaces'])}",
        "firstName": rng.choice(NAMES),
        "lastName": rng.choice([*NAMES, None]),
        "company": rng.choice(["Acme", None, "Ünïcode GmbH"]),
        "notes": rng.choice([None, "n" * 10_000, "line\nbreak"]),
        "source": rng.choice([None, "crm", "s" * 100]),
        "tags": rng.sample(["vip", "lead", "Zoë", "t" * 64], rng.randint(0, 4)),
        "customFields": {
            "int": rng.randint(-(2**40), 2**40),
            "float": rng.random(),
            "flag": rng.choice([True, False]),
            "none": None,
            "text": rng.choice(["", "ключ", "v" * 1000]),
        },
    }
    if n % 2:
        item["phones"] = [
            {"number": f"+1415555{n:04d}", "type": "mobile"},
            {"number": f"(212) 555-{n:04d}", "type": "work", "primary": True},
        ]
        item["emails"] = [{"address": f"Mixed.Case{n}@Example.com", "type": "home"}]
    else:
        item["phone"] = f"+44 20 7946 {n:04d}"
        item["email"] = f"p{n}@example.org"
    return item


def read_back(app, workspace: str, ids: list[str]) -> dict[str, dict]:
    """What the feed records when it reads each contact back (the path `written` skips)."""
    current = changes_log(app).records.read_contacts(workspace, ids)
    return {i: {f: state.get(f) for f in CONTACT_FIELDS} for i, state in current.items()}


def upsert(client, workspace, auth, items) -> dict:
    body = {"workspaceId": workspace, "key": "externalId", "items": items}
    response = client.post(f"{BATCH}/upsert", json=body, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def test_batch_writes_are_recorded_exactly_as_reading_them_back_would_record_them(
    app, client, workspace, auth, monkeypatch
):
    read_in_full = spy_full_reads(app, monkeypatch)
    rng = random.Random(18)
    items = [generated(rng, n) for n in range(120)]
    created = upsert(client, workspace, auth, items)
    assert created["summary"]["created"] == len(items)
    # Nothing wrote them since: recorded from what the bulk stored, none read back.
    assert read_in_full == []
    events, cursor = walk(client, workspace, auth)
    ids = [r["id"] for r in created["results"]]
    expected = read_back(app, workspace, ids)
    assert [e["contactId"] for e in events] == ids
    assert all(e["type"] == "contact.created" for e in events)
    assert {e["contactId"]: e["contact"] for e in events} == expected

    changed = [{**item, "notes": f"again {n}", "tags": ["Zoë"]} for n, item in enumerate(items)]
    changed[7]["phones"] = [{"number": "+14155550000"}]
    updated = upsert(client, workspace, auth, changed)
    assert updated["summary"]["updated"] == len(items)
    assert read_in_full == ids  # only the comparison's own read above
    events, _ = walk(client, workspace, auth, cursor=cursor)
    assert [e["type"] for e in events] == ["contact.updated"] * len(items)
    assert {e["contactId"]: e["contact"] for e in events} == read_back(app, workspace, ids)
    assert all(e["externalId"] == e["contact"]["externalId"] for e in events)


def test_a_contact_written_again_since_the_batch_is_read_back_not_taken_from_the_batch(
    app, client, workspace, auth
):
    rng = random.Random(14)
    created = upsert(client, workspace, auth, [generated(rng, n) for n in range(6)])
    ids = [r["id"] for r in created["results"]]
    engine = app.extensions["opensearch"]
    index = f"{app.config['INDEX_PREFIX']}contacts"
    docs = engine.mget(
        index=index, body={"docs": [{"_id": i, "routing": workspace} for i in ids]}, realtime=True
    )["docs"]
    written = {
        d["_id"]: (d["_index"], d["_seq_no"], d["_primary_term"], d["_source"]) for d in docs
    }
    # Two contacts change after "the batch" wrote them, one is deleted.
    for contact_id in ids[:2]:
        patched = client.patch(f"/v1/contacts/{contact_id}", json={"notes": "later"}, headers=auth)
        assert patched.status_code == 200
    assert client.delete(f"/v1/contacts/{ids[2]}", headers=auth).status_code == 204

    known = changes_log(app).records.read_unless_written(workspace, ids, written)

    assert {i: {f: s.get(f) for f in CONTACT_FIELDS} for i, s in known.items()} == read_back(
        app, workspace, ids
    )
    assert known[ids[0]]["notes"] == "later" and ids[2] not in known
    # A forged version never passes for the written one: the state is read.
    forged = {i: (w[0], w[1] + 1, w[2], {**w[3], "notes": "forged"}) for i, w in written.items()}
    again = changes_log(app).records.read_unless_written(workspace, ids[3:], forged)
    assert all(state["notes"] != "forged" for state in again.values())


def test_a_batch_write_overtaken_before_it_is_recorded_records_the_later_state(
    app, workspace, auth, monkeypatch
):
    """Forced interleaving: call A's bulk lands, then call B rewrites the same contacts
    and records its change, and only then does A take its numbers. A's change has the
    higher number, so it must carry B's state (the store's), not the documents A sent:
    a follower applying the feed in order ends where the store is."""
    keys = [f"race-{n}" for n in range(20)]
    client = app.test_client()
    upsert(client, workspace, auth, [{"externalId": k, "firstName": "start"} for k in keys])
    contacts = app.extensions["wiring"].contacts
    settle = contacts.settle_dnc_flags
    a_written, b_recorded = threading.Event(), threading.Event()
    caller_a: list[threading.Thread] = []

    def held_settle(workspace_id, written):
        # Between A's bulk and A's commit (the feed records right after this step).
        if threading.current_thread() in caller_a and not a_written.is_set():
            a_written.set()
            assert b_recorded.wait(30)
        return settle(workspace_id, written)

    monkeypatch.setattr(contacts, "settle_dnc_flags", held_settle)
    answers: dict[str, dict] = {}

    def call(who: str) -> None:
        if who == "B":
            assert a_written.wait(30)
        items = [{"externalId": k, "notes": f"from {who}"} for k in keys]
        answers[who] = upsert(app.test_client(), workspace, auth, items)
        if who == "B":
            b_recorded.set()

    threads = {who: threading.Thread(target=call, args=(who,)) for who in ("A", "B")}
    caller_a.append(threads["A"])
    for thread in threads.values():
        thread.start()
    for thread in threads.values():
        thread.join(60)
    assert answers["A"]["summary"]["updated"] == answers["B"]["summary"]["updated"] == len(keys)

    events, _ = walk(client, workspace, auth, limit=200)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    follower = {e["contactId"]: e["contact"] for e in events}
    stored = read_back(app, workspace, list(follower))
    assert {c["notes"] for c in stored.values()} == {"from B"}
    assert follower == stored
