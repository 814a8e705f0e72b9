"""A listed number's entry in a check (reason, addedAt, match) is the record's, also when
it is answered from the process's memo of entries (app/services/dnc_checks.py)."""

from __future__ import annotations

import random
import threading

from app import services
from app.errors import ServiceUnavailable
from tests.conftest import bearer

NUMBER = "+14155550142"


def add(client, workspace, auth, phone=NUMBER, reason="r0", status=(200, 201)):
    body = {"workspaceId": workspace, "phone": phone, "reason": reason}
    response = client.post("/v1/dnc", json=body, headers=auth)
    assert response.status_code in status, response.json
    return response.json


def check(client, workspace, auth, phone=NUMBER) -> dict:
    query = {"workspaceId": workspace, "phone": phone}
    response = client.get("/v1/dnc/check", query_string=query, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def check_many(client, workspace, auth, phones) -> dict:
    body = {"workspaceId": workspace, "phones": phones}
    response = client.post("/v1/dnc/check", json=body, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def live_cache(app, workspace) -> None:
    with app.app_context():
        services.dnc().rebuild(workspace)


def record_unreadable(app, monkeypatch) -> None:
    """Force what a real server cannot be made to do on demand: fail only the reads."""
    with app.app_context():
        service = services.dnc()

    def refuse(*args, **kwargs):
        raise ServiceUnavailable("record unreadable")

    monkeypatch.setattr(service, "lookup", refuse)


def test_repeated_checks_of_a_listed_number_need_not_read_the_record(
    app, client, workspace, auth, monkeypatch
):
    entry = add(client, workspace, auth, reason="litigator")["data"]
    live_cache(app, workspace)
    first = check(client, workspace, auth)
    assert first["meta"]["source"] == "cache" and first["data"]["match"] == entry
    record_unreadable(app, monkeypatch)
    again = check(client, workspace, auth)
    assert again["data"] == first["data"]


def test_any_write_in_the_workspace_retires_the_remembered_entries(
    app, client, workspace, auth, monkeypatch
):
    add(client, workspace, auth, reason="litigator")
    live_cache(app, workspace)
    assert check(client, workspace, auth)["data"]["reason"] == "litigator"
    add(client, workspace, auth, phone="+12015550123", reason="other number")
    record_unreadable(app, monkeypatch)
    answer = check(client, workspace, auth)["data"]
    # Still listed (the flag never comes from the memo), the evidence no longer known.
    assert answer["dnc"] is True and answer["reason"] is None and answer["match"] is None


def test_after_an_acknowledged_update_a_check_shows_the_new_reason(app, client, workspace, auth):
    add(client, workspace, auth, reason="first")
    live_cache(app, workspace)
    assert check(client, workspace, auth)["data"]["reason"] == "first"
    assert check(client, workspace, auth)["data"]["reason"] == "first"
    updated = add(client, workspace, auth, reason="second")["data"]
    answer = check(client, workspace, auth)["data"]
    assert answer["reason"] == "second" and answer["match"] == updated
    bulk = check_many(client, workspace, auth, [NUMBER, "415-555-0142"])["data"]
    assert [r["reason"] for r in bulk] == ["second", "second"]


def test_a_number_removed_and_listed_again_shows_its_new_entry(app, client, workspace, auth):
    first = add(client, workspace, auth, reason="first")["data"]
    live_cache(app, workspace)
    assert check(client, workspace, auth)["data"]["match"] == first
    path = f"/v1/dnc/{NUMBER}?workspaceId={workspace}"
    assert client.delete(path, headers=auth).status_code == 204
    assert check(client, workspace, auth)["data"]["dnc"] is False
    again = add(client, workspace, auth, reason="again")["data"]
    answer = check(client, workspace, auth)["data"]
    assert answer["dnc"] is True and answer["match"] == again


def test_an_update_whose_cache_step_failed_shows_once_the_reconciler_settled_it(
    app, client, workspace, auth, monkeypatch
):
    add(client, workspace, auth, reason="first")
    live_cache(app, workspace)
    assert check(client, workspace, auth)["data"]["reason"] == "first"
    with app.app_context():
        service = services.dnc()

    def fail(*args, **kwargs):
        raise ConnectionError("Redis went away")

    with monkeypatch.context() as patch:
        patch.setattr(service.cache, "finish_add", fail)
        add(client, workspace, auth, reason="second", status=(503,))
    assert check(client, workspace, auth)["data"]["dnc"] is True
    with app.app_context():
        report = services.dnc_reconciler().reconcile(workspace, grace=0)
    assert report["settledMarks"] == 1
    assert check(client, workspace, auth)["data"]["reason"] == "second"


def test_remembered_entries_answer_exactly_what_the_record_answers(app, client, workspace, auth):
    """The memo against the path it short-cuts: the same bulk answer, warm and cold."""
    rng = random.Random(41)
    listed = []
    while len(listed) < 40:
        phone = f"+1{rng.choice([415, 212, 646, 312])}555{rng.randrange(10_000):04d}"
        if phone not in listed:
            listed.append(phone)
            reason = rng.choice(["litigator", "customer_request", "ünïcødé ✓", "x" * 500])
            add(client, workspace, auth, phone=phone, reason=reason)
    live_cache(app, workspace)
    batch = listed + [f"+1415556{i:04d}" for i in range(60)] + ["nope", "+1 099 555 0100"]
    rng.shuffle(batch)
    cold = check_many(client, workspace, auth, batch)
    warm = check_many(client, workspace, auth, batch)
    with app.app_context():
        services.dnc().checks.entries._items.clear()
    recold = check_many(client, workspace, auth, batch)
    assert warm["data"] == cold["data"] == recold["data"]
    assert cold["meta"]["listed"] == 40 and warm["meta"]["source"] == "cache"


def test_checks_racing_updates_never_show_a_reason_older_than_the_last_acknowledged(
    app, workspace, auth
):
    """A writer updates the reason step by step; checkers that start after step i has
    been acknowledged must see step i or a later one, never an earlier one."""
    client = app.test_client()
    add(client, workspace, auth, reason="0")
    live_cache(app, workspace)
    acknowledged = [0]
    violations: list[tuple[int, object]] = []
    done = threading.Event()

    def checker():
        own = app.test_client()
        while not done.is_set():
            floor = acknowledged[0]
            seen = check(own, workspace, auth)["data"]
            if seen["dnc"] is not True:
                violations.append((floor, "not listed"))
            elif seen["reason"] is not None and int(seen["reason"]) < floor:
                violations.append((floor, seen["reason"]))

    threads = [threading.Thread(target=checker) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for step in range(1, 25):
            add(client, workspace, auth, reason=str(step))
            acknowledged[0] = step
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    assert violations == []
    assert check(client, workspace, auth)["data"]["reason"] == "24"


def test_remembered_entries_never_cross_workspaces(app, client, monkeypatch):
    """Two workspaces list the same number: each check answers its own workspace's
    entry, from the memo too, and a token for one cannot read the other's."""
    first, second = (f"ws_memo{n}{random.randrange(10**9)}" for n in (1, 2))
    auth_first, auth_second = bearer(first), bearer(second)
    add(client, first, auth_first, reason="first workspace")
    add(client, second, auth_second, reason="second workspace")
    live_cache(app, first)
    live_cache(app, second)
    for _ in range(2):  # the second round is answered from the memo
        assert check(client, first, auth_first)["data"]["reason"] == "first workspace"
        assert check(client, second, auth_second)["data"]["reason"] == "second workspace"
    record_unreadable(app, monkeypatch)
    assert check(client, second, auth_second)["data"]["match"]["workspaceId"] == second
    query = {"workspaceId": second, "phone": NUMBER}
    foreign = client.get("/v1/dnc/check", query_string=query, headers=auth_first)
    assert foreign.status_code == 403 and "second workspace" not in foreign.get_data(True)


def test_a_bulk_update_whose_cache_step_failed_shows_once_the_reconciler_cleared_it(
    app, client, workspace, auth, monkeypatch
):
    """An import that only re-lists listed numbers with a new reason changes no cache
    member: when its cache step fails, the reconciler finds nothing to settle and only
    clears the bulk mark; that must retire the remembered entries too."""
    add(client, workspace, auth, reason="first")
    live_cache(app, workspace)
    assert check(client, workspace, auth)["data"]["reason"] == "first"
    with app.app_context():
        service = services.dnc()

    def fail(*args, **kwargs):
        raise ConnectionError("Redis went away")

    with monkeypatch.context() as patch:
        patch.setattr(service.cache, "finish_add", fail)
        with app.app_context():
            try:
                service.add_many(workspace, [NUMBER], reason="imported", source="import")
            except ServiceUnavailable:
                pass
            else:
                raise AssertionError("the import was acknowledged without its cache step")
    assert check(client, workspace, auth)["data"]["dnc"] is True
    with app.app_context():
        report = services.dnc_reconciler().reconcile(workspace, grace=0, bulk_grace=0)
    assert report["full"] is True and report["missing"] == report["extra"] == 0
    assert check(client, workspace, auth)["data"]["reason"] == "imported"
