"""Consent records through HTTP on the real servers: obtained and revoked per channel,
kept with their history, and a revocation that lists the number for its channel."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import bearer

NUMBER = "+14155550142"


def record(client, workspace, auth, status_code=201, **body):
    response = client.post(
        "/v1/consents",
        json={"workspaceId": workspace, "phone": NUMBER, **body},
        headers=auth,
    )
    assert response.status_code == status_code, response.json
    return response.json


def current(client, workspace, auth, phone=NUMBER):
    response = client.get(
        "/v1/consents", query_string={"workspaceId": workspace, "phone": phone}, headers=auth
    )
    assert response.status_code == 200, response.json
    return {row["channel"]: row for row in response.json["data"]}


def history(client, workspace, auth):
    deadline = time.monotonic() + 10
    while True:  # the history is searched: visible within a refresh
        response = client.get(
            "/v1/consents/history",
            query_string={"workspaceId": workspace, "phone": NUMBER},
            headers=auth,
        )
        assert response.status_code == 200, response.json
        if response.json["meta"]["total"] or time.monotonic() > deadline:
            return response.json
        time.sleep(0.2)


def dnc(client, workspace, auth, channel="calls"):
    response = client.get(
        "/v1/dnc/check",
        query_string={"workspaceId": workspace, "phone": NUMBER, "channel": channel},
        headers=auth,
    )
    return response.json["data"]


def test_consent_is_kept_with_its_history_and_the_current_state_readable(client, workspace, auth):
    given = record(
        client,
        workspace,
        auth,
        phone="(415) 555-0142",
        status="obtained",
        channel="sms",
        source="web_form",
        evidence="Ticked 'text me offers' on https://example.com/signup at 10:02",
    )
    assert given["meta"]["current"] is True
    assert given["data"]["phone"] == NUMBER and given["data"]["status"] == "obtained"
    now = current(client, workspace, auth)
    assert set(now) == {"sms"} and now["sms"]["evidence"].startswith("Ticked")
    record(client, workspace, auth, status="revoked", channel="sms", source="reply_stop")
    now = current(client, workspace, auth)
    assert now["sms"]["status"] == "revoked" and now["sms"]["source"] == "reply_stop"
    events = history(client, workspace, auth)
    assert events["meta"]["total"] == 2
    assert [e["status"] for e in events["data"]] == ["revoked", "obtained"]


def test_a_revocation_lists_the_number_for_its_channel_by_default(client, workspace, auth):
    revoked = record(client, workspace, auth, status="revoked", channel="sms")["data"]
    assert revoked["dncEntryId"]
    texted = dnc(client, workspace, auth, channel="sms")
    assert texted["dnc"] is True and texted["match"]["source"] == "consent_revoked"
    assert texted["match"]["channel"] == "sms" and texted["match"]["id"] == revoked["dncEntryId"]
    assert dnc(client, workspace, auth, channel="calls")["dnc"] is False
    record(client, workspace, auth, status="revoked", channel="all")
    assert dnc(client, workspace, auth, channel="calls")["dnc"] is True


def test_the_workspace_setting_or_the_request_turns_the_dnc_entry_off(client, workspace, auth):
    url = f"/v1/consents/settings?workspaceId={workspace}"
    assert client.get(url, headers=auth).json["data"] == {"revokeAddsDnc": True}
    saved = client.put(url, json={"revokeAddsDnc": False}, headers=auth)
    assert saved.status_code == 200 and saved.json["data"] == {"revokeAddsDnc": False}
    assert record(client, workspace, auth, status="revoked")["data"]["dncEntryId"] is None
    assert dnc(client, workspace, auth)["dnc"] is False
    forced = record(client, workspace, auth, status="revoked", addToDnc=True)["data"]
    assert forced["dncEntryId"] == f"{workspace}:{NUMBER}"
    assert dnc(client, workspace, auth)["dnc"] is True


def test_of_racing_changes_the_one_recorded_last_stays_current(app, workspace, auth):
    results = []

    def change(status: str) -> None:
        http = app.test_client()
        results.append(record(http, workspace, auth, status=status, addToDnc=False))

    for _ in range(3):
        results.clear()
        threads = [threading.Thread(target=change, args=(s,)) for s in ("obtained", "revoked")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        latest = max((r["data"] for r in results), key=lambda r: r["at"])
        state = current(app.test_client(), workspace, auth)["all"]
        assert sum(r["meta"]["current"] for r in results) >= 1
        if results[0]["data"]["at"] != results[1]["data"]["at"]:
            assert state["eventId"] == latest["eventId"]


HOSTILE = [
    {"status": "maybe"},
    {"status": "obtained", "channel": "fax"},
    {"status": "obtained", "evidence": "e" * 2_001},
    {"status": "obtained", "evidence": {"text": "nested"}},
    {"status": "obtained", "source": "s" * 101},
    {"status": "obtained", "phone": "+１４１５５５５０１４２" + "9" * 100},
    {"status": "obtained", "phone": "not a number"},
    {"status": "obtained", "phone": ["+14155550142"]},
    {"status": "obtained", "addToDnc": "yes please"},
    {"status": "obtained", "unknownField": 1},
    {"status": "revoked", "defaultCountry": "ZZZ"},
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_consent_input_gets_a_400_and_writes_nothing(client, workspace, auth, body):
    response = client.post(
        "/v1/consents", json={"workspaceId": workspace, "phone": NUMBER, **body}, headers=auth
    )
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert len(response.data) < 5_000
    assert current(client, workspace, auth) == {}
    assert dnc(client, workspace, auth, channel="sms")["dnc"] is False


def test_non_ascii_evidence_is_kept_as_written(client, workspace, auth):
    text = "Zustimmung per Telefon, Aufnahme Nr. 42 — «oui» 同意 ✅"
    record(client, workspace, auth, status="obtained", evidence=text, addToDnc=False)
    assert current(client, workspace, auth)["all"]["evidence"] == text


def test_another_workspace_is_a_403_and_a_read_scope_cannot_write(client, workspace, auth):
    stranger = bearer("ws_someoneelse")
    response = client.post(
        "/v1/consents",
        json={"workspaceId": workspace, "phone": NUMBER, "status": "revoked"},
        headers=stranger,
    )
    assert response.status_code == 403
    reader = bearer(workspace, scope="dnc:read")
    response = client.post(
        "/v1/consents",
        json={"workspaceId": workspace, "phone": NUMBER, "status": "revoked"},
        headers=reader,
    )
    assert response.status_code == 403
    assert current(client, workspace, auth) == {}


@pytest.mark.parametrize(
    "body",
    [{"revokeAddsDnc": "maybe"}, {"revokeAddsDnc": {"on": True}}, {}, {"other": True}],
)
def test_hostile_settings_get_a_400_and_change_nothing(client, workspace, auth, body):
    url = f"/v1/consents/settings?workspaceId={workspace}"
    response = client.put(url, json=body, headers=auth)
    assert response.status_code == 400 and response.json["error"]["code"] == "validation_error"
    assert client.get(url, headers=auth).json["data"] == {"revokeAddsDnc": True}
