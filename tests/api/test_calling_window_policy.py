"""The calling-window policy through HTTP: saved, read, guarded, validated, and obeyed."""

from __future__ import annotations

import json
import threading

import pytest
from phonenumbers import SUPPORTED_REGIONS

from app import create_app
from app.config import TestConfig
from tests.api.test_calling_window import (
    FLORIDA,
    NEW_YORK,
    SUNDAY_MORNING,
    TEXAS,
    TOLL_FREE,
    assert_error,
    evaluate,
    put_policy,
)
from tests.conftest import bearer


def test_a_saved_policy_governs_the_next_evaluation_with_state_rules_and_no_call_days(
    client, workspace, auth
):
    saved = put_policy(
        client,
        auth,
        workspace,
        noCallDays=["sunday"],
        holidays=["2026-07-03"],
        regions={
            "US-FL": {"window": {"start": "08:00", "end": "20:00"}},
            "US-TX": {
                "noCallDays": [],
                "dayWindows": {"sunday": {"start": "12:00", "end": "21:00"}},
            },
        },
    )
    assert saved.status_code == 200, saved.json
    assert saved.json["data"]["source"] == "workspace" and saved.headers["ETag"]
    response = evaluate(client, auth, workspace, [NEW_YORK, TEXAS], at=SUNDAY_MORNING)
    ny, texas = response.json["data"]
    assert response.json["meta"]["policySource"] == "workspace"
    assert (ny["reason"], ny["policyRules"]) == ("no_call_day", ["default"])
    assert ny["nextAllowedAt"] == "2026-06-15T12:00:00Z"  # Monday 08:00 EDT
    assert (texas["reason"], texas["policyRules"]) == ("outside_window", ["US-TX"])
    assert texas["nextAllowedAt"] == "2026-06-14T17:00:00Z"  # Sunday 12:00 CDT
    # Florida's override ends its day at 20:00: 19:59 is allowed, 20:00 is not (EDT).
    assert evaluate(client, auth, workspace, [FLORIDA], at="2026-06-15T23:59:00Z").json["data"][0][
        "allowed"
    ]
    late = evaluate(client, auth, workspace, [FLORIDA], at="2026-06-16T00:00:00Z").json["data"][0]
    assert (late["allowed"], late["policyRules"]) == (False, ["US-FL"])
    # A holiday is a callee-local date.
    holiday = evaluate(client, auth, workspace, [NEW_YORK], at="2026-07-03T15:00:00Z").json
    assert holiday["data"][0]["reason"] == "holiday"
    # The toll-free number may ring in Florida or Texas: every state override applies.
    toll_free = evaluate(client, auth, workspace, [TOLL_FREE], at=SUNDAY_MORNING).json["data"][0]
    assert toll_free["policyRules"] == ["default", "US-FL", "US-TX"]


def test_a_policy_that_never_allows_a_call_answers_none_within_the_horizon(client, workspace, auth):
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    assert put_policy(client, auth, workspace, noCallDays=days).status_code == 200
    answer = evaluate(client, auth, workspace, [NEW_YORK]).json["data"][0]
    assert (answer["allowed"], answer["nextAllowedAt"]) == (False, None)
    assert answer["nextAllowedReason"] == "none_within_horizon"


def test_the_policy_reads_back_as_saved_and_defaults_until_saved(client, workspace, auth):
    fresh = client.get(f"/v1/calling-window/policy?workspaceId={workspace}", headers=auth)
    assert fresh.status_code == 200 and "ETag" not in fresh.headers
    assert fresh.json["data"]["source"] == "default"
    assert fresh.json["data"]["window"] == {"start": "08:00", "end": "21:00"}
    put_policy(client, auth, workspace, window={"start": "09:00", "end": "24:00"})
    read = client.get(f"/v1/calling-window/policy?workspaceId={workspace}", headers=auth)
    assert read.json["data"]["window"] == {"start": "09:00", "end": "24:00"}
    assert read.json["data"]["updatedBy"] and read.json["data"]["updatedAt"].endswith("Z")


def test_if_match_guards_the_policy_against_a_lost_update(client, workspace, auth):
    first = put_policy(client, auth, workspace, noCallDays=["sunday"])
    etag = first.headers["ETag"]
    second = put_policy(client, auth, workspace, {"If-Match": etag}, noCallDays=["saturday"])
    assert second.status_code == 200 and second.headers["ETag"] != etag
    stale = put_policy(client, auth, workspace, {"If-Match": etag}, noCallDays=[])
    assert_error(stale, 412)
    for forged in ('"1-' + "9" * 5_000 + '"', '"١-٢"', "garbage", '"-1"'):
        assert_error(put_policy(client, auth, workspace, {"If-Match": forged}), 412)
    read = client.get(f"/v1/calling-window/policy?workspaceId={workspace}", headers=auth)
    assert read.json["data"]["noCallDays"] == ["saturday"]


def test_concurrent_conditional_policy_writes_let_exactly_one_win(app, workspace, auth):
    etag = put_policy(app.test_client(), auth, workspace).headers["ETag"]
    statuses, days = [], ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

    def write(day):
        response = put_policy(
            app.test_client(), auth, workspace, {"If-Match": etag}, noCallDays=[day]
        )
        statuses.append((response.status_code, day))

    threads = [threading.Thread(target=write, args=(day,)) for day in days]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [day for status, day in statuses if status == 200]
    assert len(winners) == 1 and sorted(s for s, _ in statuses) == [200] + [412] * 5
    read = app.test_client().get(f"/v1/calling-window/policy?workspaceId={workspace}", headers=auth)
    assert read.json["data"]["noCallDays"] == winners


def test_evaluations_during_policy_changes_each_see_one_whole_policy(app, workspace, auth):
    """A dialer asking while an admin flips the policy gets one policy's answer, never a mix."""
    closed = {
        "noCallDays": ["sunday"],
        "regions": {"US": {"window": {"start": "11:00", "end": "12:00"}}},
    }
    open_ = {"window": {"start": "00:00", "end": "24:00"}}
    # Sunday 10:00 in New York: closed says no_call_day (next Monday 11:00), open says yes.
    expected = {
        (False, "no_call_day", "2026-06-15T15:00:00Z"),
        (True, None, SUNDAY_MORNING),
    }
    seen, stop = [], threading.Event()

    def flip():
        client = app.test_client()
        for turn in range(30):
            put_policy(client, auth, workspace, **(closed if turn % 2 else open_))
        stop.set()

    def ask():
        client = app.test_client()
        while not stop.is_set():
            for answer in evaluate(client, auth, workspace, [NEW_YORK], at=SUNDAY_MORNING).json[
                "data"
            ]:
                seen.append((answer["allowed"], answer["reason"], answer["nextAllowedAt"]))

    threads = [threading.Thread(target=flip)] + [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen and set(seen) <= expected, set(seen) - expected


def test_one_workspaces_policy_never_governs_another(client, workspace, auth):
    other = "ws_other_" + workspace[3:]
    put_policy(client, auth, workspace, noCallDays=["sunday"])
    answer = evaluate(client, bearer(other), other, [NEW_YORK], at=SUNDAY_MORNING).json
    assert answer["data"][0]["allowed"] and answer["meta"]["policySource"] == "default"
    assert_error(put_policy(client, bearer(other), workspace, noCallDays=[]), 403)
    assert_error(evaluate(client, bearer(other), workspace, [NEW_YORK]), 403)


@pytest.mark.parametrize(
    "policy",
    [
        {"window": {"start": "8:00", "end": "21:00"}},
        {"window": {"start": "24:00", "end": "24:00"}},
        {"window": {"start": "21:00", "end": "08:00"}},
        {"window": {"start": "08:00", "end": "08:00"}},
        {"window": {"start": "０８:００", "end": "21:00"}},
        {"window": {"start": "08:00"}},
        {"window": {"start": "08:00", "end": "21:00", "zone": "America/New_York"}},
        {"window": "08:00-21:00"},
        {"dayWindows": {"Sunday": {"start": "12:00", "end": "21:00"}}},
        {"dayWindows": {"domingo": {"start": "12:00", "end": "21:00"}}},
        {"noCallDays": ["sun"]},
        {"noCallDays": ["sunday"] * 8},
        {"noCallDays": "sunday"},
        {"holidays": ["2026-02-30"]},
        {"holidays": ["2026-12-25T00:00:00Z"]},
        {"holidays": ["2026-12-25"] * 201},
        {"regions": {"US-ZZ": {"noCallDays": ["sunday"]}}},
        {"regions": {"ZZ": {"noCallDays": ["sunday"]}}},
        {"regions": {"us-fl": {"noCallDays": ["sunday"]}}},
        {"regions": {"ＵＳ": {"noCallDays": ["sunday"]}}},
        {"regions": {"GB-LND": {"noCallDays": ["sunday"]}}},
        {"regions": {"US-FL": {}}},
        {"regions": {"US-FL": {"regions": {"US": {}}}}},
        {"regions": {"US-FL": {"timezone": "Etc/GMT+99"}}},
        {"regions": [{"region": "US-FL"}]},
        {"regions": {region: {"noCallDays": []} for region in sorted(SUPPORTED_REGIONS)[:101]}},
        {"timezone": "America/New_York"},
        {"source": "workspace"},
    ],
)
def test_hostile_policies_are_400_and_leave_the_saved_policy_alone(client, workspace, auth, policy):
    put_policy(client, auth, workspace, noCallDays=["saturday"])
    assert_error(put_policy(client, auth, workspace, **policy))
    read = client.get(f"/v1/calling-window/policy?workspaceId={workspace}", headers=auth)
    assert read.json["data"]["noCallDays"] == ["saturday"]


def test_a_deeply_nested_or_huge_policy_body_is_a_4xx(client, workspace, auth):
    nested = "[" * 50_000 + "]" * 50_000
    deep = f'{{"workspaceId": "{workspace}", "regions": {nested}}}'
    response = client.put(
        "/v1/calling-window/policy", headers=auth, data=deep, content_type="application/json"
    )
    assert_error(response)
    huge = json.dumps({"workspaceId": workspace, "holidays": ["2026-12-25"] * 200_000})
    response = client.put(
        "/v1/calling-window/policy", headers=auth, data=huge, content_type="application/json"
    )
    assert_error(response, 413)


def test_the_configured_default_window_governs_workspaces_without_a_policy(app, workspace, auth):
    class Nine(TestConfig):
        CALLING_WINDOW_START, CALLING_WINDOW_END = "09:00", "20:00"

    client = create_app(Nine).test_client()
    shown = client.get(f"/v1/calling-window/policy?workspaceId={workspace}", headers=auth)
    assert shown.json["data"]["window"] == {"start": "09:00", "end": "20:00"}
    # 08:30 EDT: inside the federal window, outside the configured one.
    answer = evaluate(client, auth, workspace, [NEW_YORK], at="2026-06-15T12:30:00Z").json
    assert answer["data"][0]["nextAllowedAt"] == "2026-06-15T13:00:00Z"
    # A saved policy that leaves `window` out keeps the configured one.
    saved = put_policy(client, auth, workspace, noCallDays=["sunday"])
    assert saved.json["data"]["window"] == {"start": "09:00", "end": "20:00"}
