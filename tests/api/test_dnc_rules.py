"""DNC rules through HTTP on the real servers: prefix rules, campaign scopes, channels,
expiry and the evidence a check answers with, each under the invariant that an
acknowledged entry is never answered "callable" for a number it covers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import services
from tests.conftest import bearer

AREA = "+1201"
UNDER = ["+12015550101", "+12015550102", "+12019990103"]
OUTSIDE = "+12025550101"


def add(client, workspace, auth, status=(200, 201), **body):
    response = client.post("/v1/dnc", json={"workspaceId": workspace, **body}, headers=auth)
    expected = status if isinstance(status, tuple) else (status,)
    assert response.status_code in expected, response.json
    return response.json


def check(client, workspace, auth, phone, **query):
    response = client.get(
        "/v1/dnc/check",
        query_string={"workspaceId": workspace, "phone": phone, **query},
        headers=auth,
    )
    assert response.status_code == 200, response.json
    return response.json


def check_many(client, workspace, auth, phones, **body):
    response = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": phones, **body}, headers=auth
    )
    assert response.status_code == 200, response.json
    return [row["dnc"] for row in response.json["data"]]


def remove(client, workspace, auth, value, status=204, **query):
    response = client.delete(
        f"/v1/dnc/{value}", query_string={"workspaceId": workspace, **query}, headers=auth
    )
    assert response.status_code == status, response.json
    return response


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_prefix_rule_lists_every_number_under_it_with_its_evidence(client, workspace, auth):
    before = check(client, workspace, auth, UNDER[0])["meta"]["version"]
    created = add(client, workspace, auth, rule="prefix", prefix="+1 201", reason="area_ban")
    entry = created["data"]
    assert entry["rule"] == "prefix" and entry["prefix"] == AREA and entry["phone"] is None
    assert entry["scope"] is None and entry["channel"] == "all" and entry["expiresAt"] is None
    assert check_many(client, workspace, auth, [*UNDER, OUTSIDE]) == [True, True, True, False]
    answer = check(client, workspace, auth, "(201) 555-0101")
    assert answer["data"]["dnc"] is True and answer["data"]["reason"] == "area_ban"
    assert answer["data"]["match"] == entry
    assert answer["meta"]["version"] == (before or 0) + 1
    assert answer["meta"]["checkedAt"].endswith("Z") and answer["meta"]["channel"] == "calls"
    assert check(client, workspace, auth, OUTSIDE)["data"]["match"] is None


def test_adding_the_same_rule_twice_updates_one_entry(client, workspace, auth):
    first = add(client, workspace, auth, status=201, rule="prefix", prefix=AREA, scope="spring")
    again = add(client, workspace, auth, status=200, rule="prefix", prefix=AREA, scope="spring")
    assert again["meta"]["existed"] is True and again["data"]["id"] == first["data"]["id"]
    other = add(client, workspace, auth, status=201, rule="prefix", prefix=AREA, channel="sms")
    assert other["data"]["id"] != first["data"]["id"]
    listed = client.get(
        "/v1/dnc", query_string={"workspaceId": workspace, "rule": "prefix"}, headers=auth
    ).json
    assert listed["meta"]["total"] == 2


def test_the_seed_entry_keeps_its_id_and_shape(client, workspace, auth):
    entry = add(client, workspace, auth, phone=UNDER[0])["data"]
    assert entry["id"] == f"{workspace}:{UNDER[0]}" and entry["rule"] == "exact"
    assert entry["scope"] is None and entry["channel"] == "all" and entry["expiresAt"] is None


def test_a_campaign_entry_matches_only_that_campaign(client, workspace, auth):
    add(client, workspace, auth, phone=UNDER[0], scope="spring-promo")
    add(client, workspace, auth, rule="prefix", prefix="+120199", scope="spring-promo")
    assert check(client, workspace, auth, UNDER[0])["data"]["dnc"] is False
    assert check(client, workspace, auth, UNDER[0], campaign="autumn")["data"]["dnc"] is False
    hit = check(client, workspace, auth, UNDER[0], campaign="spring-promo")["data"]
    assert hit["dnc"] is True and hit["match"]["scope"] == "spring-promo"
    assert check_many(client, workspace, auth, UNDER, campaign="spring-promo") == [
        True,
        False,
        True,
    ]
    add(client, workspace, auth, phone=UNDER[1])  # workspace-wide: every campaign
    assert check(client, workspace, auth, UNDER[1], campaign="autumn")["data"]["dnc"] is True


def test_a_channel_entry_matches_only_its_channel(client, workspace, auth):
    add(client, workspace, auth, phone=UNDER[0], channel="sms")
    add(client, workspace, auth, phone=UNDER[1], channel="calls")
    add(client, workspace, auth, rule="prefix", prefix="+120199")  # all channels
    calls = check_many(client, workspace, auth, UNDER)
    sms = check_many(client, workspace, auth, UNDER, channel="sms")
    assert calls == [False, True, True] and sms == [True, False, True]


def test_contacts_flag_means_listed_for_calls_workspace_wide(client, workspace, auth):
    ids = {}
    for phone in UNDER:
        response = client.post(
            "/v1/contacts?refresh=wait_for",
            json={"workspaceId": workspace, "firstName": "Rule", "phone": phone},
            headers=auth,
        )
        ids[phone] = response.json["data"]["id"]
    add(client, workspace, auth, phone=UNDER[0], channel="sms")
    add(client, workspace, auth, phone=UNDER[1], scope="spring")
    add(client, workspace, auth, rule="prefix", prefix="+120199")

    def flags():
        got = {
            p: client.get(f"/v1/contacts/{i}", headers=auth).json["data"]["dnc"]
            for p, i in ids.items()
        }
        found = client.post(
            "/v1/contacts/search",
            json={"workspaceId": workspace, "query": "", "filters": {"dnc": True}, "limit": 10},
            headers=auth,
        ).json["data"]
        return got, {c["phone"] for c in found}

    got, searched = flags()
    assert got == {UNDER[0]: False, UNDER[1]: False, UNDER[2]: True}
    assert searched == {UNDER[2]}
    remove(client, workspace, auth, "+120199", rule="prefix")
    got, searched = flags()
    assert got[UNDER[2]] is False and searched == set()


def test_removing_a_number_a_prefix_rule_still_covers_keeps_it_listed(client, workspace, auth):
    response = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Both", "phone": UNDER[0]},
        headers=auth,
    )
    contact_id = response.json["data"]["id"]
    add(client, workspace, auth, phone=UNDER[0])
    add(client, workspace, auth, rule="prefix", prefix=AREA)
    remove(client, workspace, auth, UNDER[0])
    answer = check(client, workspace, auth, UNDER[0])["data"]
    assert answer["dnc"] is True and answer["match"]["rule"] == "prefix"
    assert client.get(f"/v1/contacts/{contact_id}", headers=auth).json["data"]["dnc"] is True
    filtered = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "", "filters": {"dnc": False}},
        headers=auth,
    ).json["data"]
    assert contact_id not in {c["id"] for c in filtered}


def test_an_entry_expires_at_its_time_never_earlier_and_the_history_says_so(
    app, client, workspace, auth
):
    contact = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Expiring", "phone": UNDER[2]},
        headers=auth,
    ).json["data"]["id"]
    expires = datetime.now(UTC) + timedelta(seconds=2)
    entry = add(client, workspace, auth, phone=UNDER[0], expiresAt=iso(expires))["data"]
    add(client, workspace, auth, rule="prefix", prefix="+120199", expiresAt=iso(expires))
    assert client.get(f"/v1/contacts/{contact}", headers=auth).json["data"]["dnc"] is True
    assert entry["expiresAt"] == iso(expires) and entry["id"] == f"{workspace}:{UNDER[0]}"
    deadline = time.monotonic() + 30
    seen = set()
    while time.monotonic() < deadline and len(seen) < 2:
        for phone in (UNDER[0], UNDER[2]):
            answer = check(client, workspace, auth, phone)
            checked = datetime.fromisoformat(answer["meta"]["checkedAt"].replace("Z", "+00:00"))
            if answer["data"]["dnc"] is False:
                assert checked >= expires, answer  # never "callable" before the expiry
                seen.add(phone)
            else:
                assert answer["data"]["dnc"] is True
        time.sleep(0.2)
    assert seen == {UNDER[0], UNDER[2]}
    with app.app_context():
        first = services.dnc_reconciler().reconcile(workspace, full=True)
        second = services.dnc_reconciler().reconcile(workspace, full=True)
    assert first["expired"] == 2 and second["expired"] == 0
    assert client.get(f"/v1/contacts/{contact}", headers=auth).json["data"]["dnc"] is False
    callable_ = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "", "filters": {"dnc": False}},
        headers=auth,
    ).json["data"]
    assert contact in {c["id"] for c in callable_}  # the stored flag was cleared
    assert first["rulesRepaired"] == second["rulesRepaired"] == 0
    deadline = time.monotonic() + 10
    history: list = []
    while time.monotonic() < deadline and len(history) < 2:  # history is near-real-time
        history = client.get(
            "/v1/dnc/history",
            query_string={"workspaceId": workspace, "action": "expired"},
            headers=auth,
        ).json["data"]
        time.sleep(0.2)
    assert sorted((e["rule"], e["phone"] or e["prefix"]) for e in history) == [
        ("exact", UNDER[0]),
        ("prefix", "+120199"),
    ]
    assert (
        client.get("/v1/dnc", query_string={"workspaceId": workspace}, headers=auth).json["meta"][
            "total"
        ]
        == 0
    )


def test_a_re_add_without_expiry_makes_an_expiring_entry_permanent(client, workspace, auth):
    soon = iso(datetime.now(UTC) + timedelta(seconds=1))
    add(client, workspace, auth, phone=UNDER[0], expiresAt=soon)
    again = add(client, workspace, auth, phone=UNDER[0], status=200)["data"]
    assert again["expiresAt"] is None
    time.sleep(1.5)
    assert check(client, workspace, auth, UNDER[0])["data"]["dnc"] is True


def test_rules_survive_a_lost_cache_and_answer_from_the_record(app, client, workspace, auth):
    add(client, workspace, auth, rule="prefix", prefix=AREA, scope="spring")
    add(client, workspace, auth, phone=UNDER[1], channel="sms")
    with app.app_context():
        services.dnc().cache.drop(workspace)
    answer = client.post(
        "/v1/dnc/check",
        json={"workspaceId": workspace, "phones": UNDER, "campaign": "spring"},
        headers=auth,
    ).json
    assert [row["dnc"] for row in answer["data"]] == [True, True, True]
    assert answer["data"][0]["match"]["prefix"] == AREA
    with app.app_context():
        services.dnc().rebuild(workspace)
        assert services.dnc_reconciler().reconcile(workspace, full=True)["rulesRepaired"] == 0
    assert check_many(client, workspace, auth, UNDER, campaign="spring") == [True, True, True]
    assert check_many(client, workspace, auth, UNDER, channel="sms") == [False, True, False]
    assert check(client, workspace, auth, UNDER[0])["meta"]["source"] == "cache"


HOSTILE_BODIES = [
    {"rule": "prefix", "prefix": "+0"},
    {"rule": "prefix", "prefix": "+"},
    {"rule": "prefix", "prefix": "+" + "1" * 20},
    {"rule": "prefix", "prefix": "+１２０１"},
    {"rule": "prefix", "prefix": "+٢٠١"},
    {"rule": "prefix", "prefix": "+999"},
    {"rule": "prefix", "prefix": "1201"},
    {"rule": "prefix", "prefix": "+1201" * 5_000},
    {"rule": "prefix", "prefix": {"$gt": ""}},
    {"rule": "prefix", "prefix": ["+1201"]},
    {"rule": "prefix"},
    {"rule": "prefix", "prefix": "+1201", "phone": UNDER[0]},
    {"rule": "regex", "phone": UNDER[0]},
    {"phone": UNDER[0], "scope": "spring promo"},
    {"phone": UNDER[0], "scope": "printemps-été"},
    {"phone": UNDER[0], "scope": "a" * 65},
    {"phone": UNDER[0], "scope": "x|y;z"},
    {"phone": UNDER[0], "scope": {"name": "spring"}},
    {"phone": UNDER[0], "channel": "fax"},
    {"phone": UNDER[0], "channel": ["sms"]},
    {"phone": UNDER[0], "expiresAt": "2001-01-01T00:00:00Z"},
    {"phone": UNDER[0], "expiresAt": "tomorrow"},
    {"phone": UNDER[0], "expiresAt": "9" * 10_000},
    {"phone": UNDER[0], "expiresAt": {"at": 1}},
    {"phone": UNDER[0], "source": "s" * 10_000},
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_rule_fields_get_a_400_and_write_nothing(client, workspace, auth, body):
    response = client.post("/v1/dnc", json={"workspaceId": workspace, **body}, headers=auth)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert response.json["error"]["details"]
    assert len(response.data) < 5_000  # a huge value is not echoed back
    listed = client.get("/v1/dnc", query_string={"workspaceId": workspace}, headers=auth).json
    assert listed["meta"]["total"] == 0


@pytest.mark.parametrize(
    "query",
    [
        {"campaign": "spring promo"},
        {"campaign": "é" * 10},
        {"campaign": "c" * 5_000},
        {"channel": "all"},
        {"channel": "fax"},
    ],
)
def test_hostile_check_parameters_get_a_400(client, workspace, auth, query):
    single = client.get(
        "/v1/dnc/check",
        query_string={"workspaceId": workspace, "phone": UNDER[0], **query},
        headers=auth,
    )
    bulk = client.post(
        "/v1/dnc/check",
        json={"workspaceId": workspace, "phones": [UNDER[0]], **query},
        headers=auth,
    )
    assert single.status_code == bulk.status_code == 400
    assert single.json["error"]["code"] == bulk.json["error"]["code"] == "validation_error"


def test_a_forged_prefix_removal_is_a_404_and_another_workspace_a_403(client, workspace, auth):
    add(client, workspace, auth, rule="prefix", prefix=AREA)
    remove(client, workspace, auth, "+0", status=404, rule="prefix")
    remove(client, workspace, auth, "+1202", status=404, rule="prefix")
    remove(client, workspace, auth, AREA, status=404, rule="prefix", scope="spring")
    stranger = bearer("ws_someoneelse")
    remove(client, workspace, stranger, AREA, status=403, rule="prefix")
    assert check(client, workspace, auth, UNDER[0])["data"]["dnc"] is True
    remove(client, workspace, auth, AREA, rule="prefix")
    assert check(client, workspace, auth, UNDER[0])["data"]["dnc"] is False


def test_concurrent_rule_writes_on_one_prefix_never_lose_an_acknowledged_rule(
    app, client, workspace, auth
):
    """Threads add and remove rules filed under the same prefix (one cache field) while
    a rebuild runs: right after each add is acknowledged its campaign must read listed,
    and once quiet the cache equals the record."""
    failures: list[str] = []

    def writer(k: int) -> None:
        http = app.test_client()
        for _ in range(6):
            add(http, workspace, auth, rule="prefix", prefix=AREA, scope=f"keep{k}")
            if (
                check(http, workspace, auth, UNDER[k % 3], campaign=f"keep{k}")["data"]["dnc"]
                is not True
            ):
                failures.append(f"keep{k}")
            add(http, workspace, auth, rule="prefix", prefix=AREA, scope=f"churn{k}")
            remove(http, workspace, auth, AREA, rule="prefix", scope=f"churn{k}")

    def rebuilder() -> None:
        with app.app_context():
            for _ in range(3):
                services.dnc().rebuild(workspace)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=rebuilder))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    for k in range(4):
        assert check(client, workspace, auth, UNDER[0], campaign=f"keep{k}")["data"]["dnc"] is True
        assert (
            check(client, workspace, auth, UNDER[0], campaign=f"churn{k}")["data"]["dnc"] is False
        )
    with app.app_context():
        report = services.dnc_reconciler().reconcile(workspace, grace=0, full=True)
    assert report["rulesRepaired"] == 0 and report["missing"] == report["extra"] == 0


@pytest.mark.parametrize(
    "query",
    [
        {"rule": "regex"},
        {"scope": "spring promo"},
        {"scope": "ü" * 70},
        {"channel": "fax"},
        {"rule": "prefix", "scope": "x" * 5_000},
    ],
)
def test_hostile_removal_parameters_get_a_400_and_remove_nothing(client, workspace, auth, query):
    add(client, workspace, auth, rule="prefix", prefix=AREA)
    add(client, workspace, auth, phone=UNDER[0])
    for target in (AREA, UNDER[0]):
        response = remove(client, workspace, auth, target, status=400, **query)
        assert response.json["error"]["code"] == "validation_error"
    assert check_many(client, workspace, auth, UNDER) == [True, True, True]


@pytest.mark.parametrize(
    "query",
    [{"rule": "prefix", "scope": "Spring"}, {"rule": "exact", "channel": "sms"}],
)
def test_removing_another_rules_identity_leaves_the_entry_listed(client, workspace, auth, query):
    add(client, workspace, auth, rule="prefix", prefix=AREA, scope="spring")
    add(client, workspace, auth, phone=UNDER[1], scope="spring")
    remove(client, workspace, auth, AREA if query["rule"] == "prefix" else UNDER[1], 404, **query)
    assert check_many(client, workspace, auth, UNDER, campaign="spring") == [True, True, True]


def test_a_removal_of_an_absent_rule_leaves_no_mark_behind(app, client, workspace, auth):
    remove(client, workspace, auth, AREA, status=404, rule="prefix", scope="spring")
    with app.app_context():
        assert services.dnc().cache.rule_marks(workspace) == {}


def test_a_number_listed_while_its_prefix_rule_is_removed_keeps_its_contact_flagged(
    app, client, workspace, auth
):
    """The removal decided what to clear before the number's own add wrote its entry; that
    add is acknowledged only once its flag update ran after the clear (the workspace's
    flags lock), so the contact ends flagged and no reader saw it cleared after the ack."""
    contact = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Raced", "phone": UNDER[0]},
        headers=auth,
    ).json["data"]["id"]
    add(client, workspace, auth, rule="prefix", prefix=AREA)
    with app.app_context():
        service = services.dnc()
    original, answers, racers = service.not_listed, [], []

    def add_during_the_removal() -> None:
        response = app.test_client().post(
            "/v1/dnc", json={"workspaceId": workspace, "phone": UNDER[0]}, headers=auth
        )
        answers.append(response.status_code)

    def add_meanwhile(workspace_id, phones):
        answer = original(workspace_id, phones)  # decided before the add's entry exists
        if not racers:
            racers.append(threading.Thread(target=add_during_the_removal))
            racers[0].start()
            time.sleep(1.0)  # the add writes its entry and waits for the flags lock
        return answer

    service.not_listed = add_meanwhile
    try:
        remove(client, workspace, auth, AREA, rule="prefix")
    finally:
        del service.not_listed
    racers[0].join(timeout=60)
    assert answers == [201] or answers == [200]
    listed = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "", "filters": {"dnc": True}},
        headers=auth,
    ).json["data"]
    assert contact in {c["id"] for c in listed}
