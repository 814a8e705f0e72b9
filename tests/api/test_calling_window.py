"""The calling window through HTTP on the real servers: evaluation, the DNC gate, a contact's
numbers, tenancy and hostile input (the policy: test_calling_window_policy.py)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import bearer

NEW_YORK = "+12125550100"  # "New York, NY": US-NY, America/New_York
FLORIDA = "+13055550100"  # "Florida": US-FL, America/New_York
TEXAS = "+15125550100"  # "Texas": US-TX, America/Chicago
TOLL_FREE = "+18005550100"  # every North American zone
# Sunday 2026-06-14, 14:00 UTC: 10:00 in New York, 09:00 in Austin.
SUNDAY_MORNING = "2026-06-14T14:00:00Z"


def evaluate(client, auth, workspace, phones, **extra):
    body = {"workspaceId": workspace, "phones": phones, **extra}
    return client.post("/v1/calling-window", headers=auth, json=body)


def put_policy(client, auth, workspace, headers=None, **policy):
    return client.put(
        "/v1/calling-window/policy",
        headers={**auth, **(headers or {})},
        json={"workspaceId": workspace, **policy},
    )


def assert_error(response, status=400):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_json and set(response.json) == {"error"}
    assert {"code", "message"} <= set(response.json["error"])


def test_each_phone_gets_its_zone_local_time_verdict_and_next_start_in_input_order(
    client, workspace, auth
):
    # 06:30Z on 2026-03-08 is 01:30 EST, the night New York springs forward.
    response = evaluate(
        client,
        auth,
        workspace,
        [NEW_YORK, "not a phone", "+918123456789"],
        at="2026-03-08T06:30:00Z",
    )
    assert response.status_code == 200, response.json
    ny, invalid, india = response.json["data"]
    assert ny["normalized"] == NEW_YORK and ny["subdivisions"] == ["US-NY"]
    assert ny["regionLabel"] == "New York, NY" and ny["timezoneSource"] == "number"
    assert ny["timezones"] == [
        {
            "zone": "America/New_York",
            "localTime": "2026-03-08T01:30:00-05:00",
            "allowed": False,
            "reason": "outside_window",
            "nextAllowedAt": "2026-03-08T12:00:00Z",
            "allowedUntil": None,
        }
    ]
    assert (ny["allowed"], ny["reason"], ny["nextAllowedAt"]) == (
        False,
        "outside_window",
        "2026-03-08T12:00:00Z",  # 08:00 EDT, not the 13:00Z of standard time
    )
    assert invalid["original"] == "not a phone" and not invalid["isValid"]
    assert invalid["validationErrors"] and invalid["reason"] == "invalid_number"
    assert invalid["nextAllowedAt"] is None and invalid["allowed"] is False
    assert india["allowed"] and india["timezones"][0]["localTime"] == "2026-03-08T12:00:00+05:30"
    assert india["nextAllowedAt"] == "2026-03-08T06:30:00Z"  # allowed: the evaluation instant
    assert india["allowedUntil"] == "2026-03-08T15:30:00Z"  # 21:00 IST
    assert ny["allowedUntil"] is None and invalid["allowedUntil"] is None
    meta = response.json["meta"]
    assert meta == {
        "evaluatedAt": "2026-03-08T06:30:00Z",
        "policySource": "default",
        "policyUpdatedAt": None,
        "horizonDays": 14,
    }


def test_an_at_without_an_offset_is_utc_and_an_offset_is_honoured(client, workspace, auth):
    for at in ("2026-03-08T06:30:00", "2026-03-08T01:30:00-05:00", "2026-03-08T12:00:00+05:30"):
        response = evaluate(client, auth, workspace, [NEW_YORK], at=at)
        assert response.json["meta"]["evaluatedAt"] == "2026-03-08T06:30:00Z", at
        assert response.json["data"][0]["nextAllowedAt"] == "2026-03-08T12:00:00Z"


def test_without_at_the_answer_is_about_now(client, workspace, auth):
    response = evaluate(client, auth, workspace, [NEW_YORK])
    assert response.status_code == 200
    assert response.json["meta"]["evaluatedAt"].endswith("Z")
    answer = response.json["data"][0]
    assert answer["nextAllowedAt"] is not None
    assert (answer["nextAllowedAt"] == response.json["meta"]["evaluatedAt"]) == answer["allowed"]


def test_a_toll_free_number_answers_the_most_restrictive_of_all_its_zones(client, workspace, auth):
    response = evaluate(client, auth, workspace, [TOLL_FREE], at="2026-01-15T15:00:00Z")
    answer = response.json["data"][0]
    assert len(answer["timezones"]) > 30 and answer["subdivisions"] == []
    ny = next(z for z in answer["timezones"] if z["zone"] == "America/New_York")
    assert ny["allowed"] is True  # 10:00 in New York...
    assert answer["allowed"] is False  # ...but 01:00 in Guam
    assert answer["nextAllowedAt"] == "2026-01-15T22:00:00Z"


def test_an_international_freephone_number_has_no_zone_and_is_never_callable(
    client, workspace, auth
):
    answer = evaluate(client, auth, workspace, ["+80012345678"]).json["data"][0]
    assert answer["isValid"] and answer["timezoneSource"] == "none"
    assert (answer["allowed"], answer["reason"]) == (False, "unknown_timezone")
    assert (answer["nextAllowedAt"], answer["nextAllowedReason"]) == (None, "unknown_timezone")


def test_default_country_reads_national_numbers(client, workspace, auth):
    answer = evaluate(
        client, auth, workspace, ["0113 496 0000"], defaultCountry="GB", at="2026-06-15T12:00:00Z"
    ).json["data"][0]
    assert answer["normalized"] == "+441134960000" and answer["allowed"]
    assert answer["timezones"][0]["zone"] == "Europe/London"


# --- the Do-Not-Call list -----------------------------------------------------------------


def test_a_listed_number_is_never_allowed_whatever_the_clock_says(client, workspace, auth):
    # 10:00 on a Monday in New York: inside the window.
    at = "2026-06-15T14:00:00Z"
    assert evaluate(client, auth, workspace, [NEW_YORK], at=at).json["data"][0]["dnc"] is False
    listed = client.post(
        "/v1/dnc", headers=auth, json={"workspaceId": workspace, "phone": "(212) 555-0100"}
    )
    assert listed.status_code == 201, listed.json
    answer = evaluate(client, auth, workspace, [NEW_YORK, FLORIDA], at=at).json["data"]
    assert (answer[0]["dnc"], answer[0]["allowed"], answer[0]["reason"]) == (
        True,
        False,
        "dnc_listed",
    )
    assert (answer[0]["nextAllowedAt"], answer[0]["nextAllowedReason"]) == (None, "dnc_listed")
    assert answer[0]["timezones"][0]["allowed"] is True  # the clock alone would allow it
    assert (answer[1]["dnc"], answer[1]["allowed"]) == (False, True)
    removed = client.delete(
        f"/v1/dnc/{NEW_YORK}", headers=auth, query_string={"workspaceId": workspace}
    )
    assert removed.status_code == 204
    assert evaluate(client, auth, workspace, [NEW_YORK], at=at).json["data"][0]["allowed"] is True


def test_a_campaigns_own_entries_bar_its_calls_and_no_other_campaigns(client, workspace, auth):
    at = "2026-06-15T14:00:00Z"  # 10:00 on a Monday in New York: inside the window
    scoped = client.post(
        "/v1/dnc",
        headers=auth,
        json={"workspaceId": workspace, "phone": NEW_YORK, "scope": "spring-promo"},
    )
    assert scoped.status_code == 201, scoped.json
    contact = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "phone": NEW_YORK}
    ).json["data"]["id"]
    for campaign, allowed in (("spring-promo", False), ("other-list", True), (None, True)):
        extra = {"campaign": campaign} if campaign else {}
        [answer] = evaluate(client, auth, workspace, [NEW_YORK], at=at, **extra).json["data"]
        assert (answer["allowed"], answer["dnc"]) == (allowed, not allowed), campaign
        by_contact = client.get(
            f"/v1/contacts/{contact}/calling-window",
            headers=auth,
            query_string={"workspaceId": workspace, "at": at, **extra},
        )
        assert by_contact.json["data"]["phones"][0]["allowed"] is allowed, campaign
    for hostile in ("", "x" * 65, "spring promo", "ｓｐｒｉｎｇ", ["a"], {"a": 1}):
        assert_error(evaluate(client, auth, workspace, [NEW_YORK], campaign=hostile))


def test_a_number_listed_while_a_dialer_asks_is_never_allowed_after_the_add_returns(
    app, workspace, auth
):
    at = "2026-06-15T14:00:00Z"
    acknowledged, seen, stop = threading.Event(), [], threading.Event()

    def ask():
        client = app.test_client()
        while not stop.is_set():
            after_ack = acknowledged.is_set()
            answer = evaluate(client, auth, workspace, [NEW_YORK], at=at).json["data"][0]
            seen.append((after_ack, answer["allowed"], answer["dnc"]))

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for thread in askers:
        thread.start()
    response = app.test_client().post(
        "/v1/dnc", headers=auth, json={"workspaceId": workspace, "phone": NEW_YORK}
    )
    assert response.status_code == 201
    acknowledged.set()
    wanted = len(seen) + 30
    for _ in range(3_000):  # bounded: at most ~30 s if the askers stall
        if len(seen) >= wanted:
            break
        stop.wait(0.01)
    stop.set()
    for thread in askers:
        thread.join()
    after = [(allowed, dnc) for started_after, allowed, dnc in seen if started_after]
    assert after and all(item == (False, True) for item in after), set(after)


def test_when_the_list_cannot_answer_no_number_is_allowed(
    app, client, workspace, auth, monkeypatch
):
    """Both DNC stores down cannot be staged on the shared servers: the list's own answer
    to that (ServiceUnavailable) is forced here."""
    from app.errors import ServiceUnavailable

    def unavailable(workspace_id, phones, campaign=""):
        raise ServiceUnavailable()

    service = app.extensions["wiring"].calling_window
    monkeypatch.setattr(service, "dnc_listed", unavailable)
    answer = evaluate(client, auth, workspace, [NEW_YORK], at="2026-06-15T14:00:00Z").json
    item = answer["data"][0]
    assert (item["dnc"], item["allowed"], item["reason"]) == (None, False, "dnc_unknown")
    assert item["nextAllowedAt"] is None and item["allowedUntil"] is None


# --- a contact's numbers --------------------------------------------------------------


def test_a_contacts_calling_window_covers_its_phone(client, workspace, auth):
    created = client.post(
        "/v1/contacts",
        headers=auth,
        json={"workspaceId": workspace, "firstName": "A", "phone": FLORIDA},
    )
    contact_id = created.json["data"]["id"]
    response = client.get(
        f"/v1/contacts/{contact_id}/calling-window",
        headers=auth,
        query_string={"workspaceId": workspace, "at": SUNDAY_MORNING},
    )
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert (data["contactId"], data["workspaceId"]) == (contact_id, workspace)
    assert [p["normalized"] for p in data["phones"]] == [FLORIDA]
    assert data["phones"][0]["allowed"] is True
    assert response.json["meta"]["evaluatedAt"] == SUNDAY_MORNING


def test_a_contact_without_a_phone_has_no_windows(client, workspace, auth):
    created = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": "B"}
    )
    response = client.get(
        f"/v1/contacts/{created.json['data']['id']}/calling-window",
        headers=auth,
        query_string={"workspaceId": workspace},
    )
    assert response.status_code == 200 and response.json["data"]["phones"] == []


def test_another_workspaces_contact_is_404_however_it_is_asked_for(client, workspace, auth):
    created = client.post(
        "/v1/contacts",
        headers=auth,
        json={"workspaceId": workspace, "firstName": "C", "phone": NEW_YORK},
    )
    path = f"/v1/contacts/{created.json['data']['id']}/calling-window"
    other = "ws_other_" + workspace[3:]
    # A token without the contact's workspace, naming its own or the contact's workspace.
    for ask in (other, workspace):
        response = client.get(path, headers=bearer(other), query_string={"workspaceId": ask})
        assert_error(response, 404)
        assert NEW_YORK not in response.get_data(as_text=True)
    # A token holding both, naming the workspace the contact is not in.
    both = bearer([workspace, other])
    assert_error(client.get(path, headers=both, query_string={"workspaceId": other}), 404)
    assert_error(
        client.get(
            "/v1/contacts/contact_nope/calling-window",
            headers=auth,
            query_string={"workspaceId": workspace},
        ),
        404,
    )


def test_reading_needs_contacts_read_and_writing_the_policy_needs_contacts_write(client, workspace):
    reader = bearer(workspace, scope="contacts:read")
    assert evaluate(client, reader, workspace, [NEW_YORK]).status_code == 200
    assert_error(put_policy(client, reader, workspace), 403)
    assert_error(evaluate(client, bearer(workspace, scope="dnc:read"), workspace, [NEW_YORK]), 403)


# --- hostile input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"phones": []},
        {"phones": [NEW_YORK] * 1_001},
        {"phones": ["1" * 1_001]},
        {"phones": [None]},
        {"phones": [{"number": NEW_YORK}]},
        {"phones": NEW_YORK},
        {"phones": [[[NEW_YORK]]]},
        {"phones": [NEW_YORK], "at": "2026-13-01T00:00:00Z"},
        {"phones": [NEW_YORK], "at": "2026-06-14T14:00:00+99:00"},
        {"phones": [NEW_YORK], "at": "9999-12-31T23:59:59Z"},
        {"phones": [NEW_YORK], "at": "1900-01-01T00:00:00Z"},
        {"phones": [NEW_YORK], "at": "now"},
        {"phones": [NEW_YORK], "at": 1_750_000_000},
        {"phones": [NEW_YORK], "at": "２０２６-06-14T14:00:00Z"},
        {"phones": [NEW_YORK], "defaultCountry": "ＵＳ"},
        {"phones": [NEW_YORK], "defaultCountry": "USA"},
        {"phones": [NEW_YORK], "timezone": "Mars/Olympus_Mons"},
        {"phones": [NEW_YORK], "workspaceId": "ws_" + "a" * 10_000},
    ],
)
def test_hostile_evaluation_requests_are_400_in_the_error_shape(client, workspace, auth, body):
    assert_error(
        client.post("/v1/calling-window", headers=auth, json={"workspaceId": workspace, **body})
    )


def test_a_thousand_phones_of_any_shape_answer_per_item_never_a_500(client, workspace, auth):
    phones = [f"+1212555{i:04d}" for i in range(990)] + [
        "x" * 1_000,
        "+١٢١٢٥٥٥٠١٠٠",  # Arabic-Indic digits
        "+1 (212) 555-0100 ext. 99",
        "tel:+1-212-555-0100",
        "\u202e+12125550100",
        "",
        "+",
        "+0000000000",
        TOLL_FREE,
        "+79161234567",
    ]
    response = evaluate(client, auth, workspace, phones, at=SUNDAY_MORNING)
    assert response.status_code == 200
    data = response.json["data"]
    assert [item["original"] for item in data] == phones
    assert data[990]["validationErrors"] == ["TOO_LONG"] and data[990]["allowed"] is False
    assert all(item["allowed"] is False for item in data if not item["isValid"])
