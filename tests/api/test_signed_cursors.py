"""Signed cursors and the per-workspace budget of points in time, through HTTP.

Cursors carry sort values and a point-in-time id; only cursors this server signed for
the same workspace and query are accepted, and a workspace cannot hold more points in
time than its budget, however it replays page-1 cursors or starts exports.
"""

from __future__ import annotations

import base64
import json

import pytest
from opensearchpy import TransportError

from app import create_app
from app.config import TestConfig
from tests.conftest import bearer


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def payload_of(cursor: str) -> dict:
    encoded = cursor.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def with_payload(cursor: str, **changes) -> str:
    """The cursor's payload changed, its signature kept (what a tampering client sends)."""
    body = {**payload_of(cursor), **changes}
    return f"{b64(json.dumps(body).encode())}.{cursor.split('.')[1]}"


def people(client, workspace, count=4):
    auth = bearer(workspace)
    for n in range(count):
        body = {"workspaceId": workspace, "firstName": f"P{n}", "lastName": f"L{n}"}
        response = client.post("/v1/contacts?refresh=wait_for", json=body, headers=auth)
        assert response.status_code == 201, response.json
    return auth


def search(client, workspace, auth, **body):
    return client.post("/v1/contacts/search", json={"workspaceId": workspace, **body}, headers=auth)


def assert_cursor_refused(response, message="not valid"):
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "validation_error" and message in error["message"]
    assert error["details"][0]["field"] == "cursor"


def paged_pit(client, workspace, auth) -> tuple[str, str]:
    """A page-2 cursor (it carries a point in time) and that point in time's id."""
    first = search(client, workspace, auth, sort="lastName", limit=1).json
    second = search(
        client, workspace, auth, sort="lastName", limit=1, cursor=first["meta"]["nextCursor"]
    )
    cursor = second.json["meta"]["nextCursor"]
    return cursor, payload_of(cursor)["p"]


def test_forged_and_tampered_cursors_are_400_on_every_paged_route(client, workspace):
    auth = people(client, workspace)
    cursor = search(client, workspace, auth, sort="lastName", limit=1).json["meta"]["nextCursor"]
    listed = client.get(f"/v1/contacts?workspaceId={workspace}&limit=1", headers=auth).json
    list_cursor = listed["meta"]["nextCursor"]
    unsigned = b64(json.dumps(payload_of(cursor)).encode())  # the old, unsigned format
    forged = [
        unsigned,
        f"{unsigned}.{b64(b'x' * 32)}",
        with_payload(cursor, a=["L0", "contact_zzz"]),
        with_payload(cursor, p="a-point-in-time-id"),
        cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
    ]
    for bad in forged:
        assert_cursor_refused(search(client, workspace, auth, sort="lastName", limit=1, cursor=bad))
        got = client.get(
            f"/v1/contacts/search?workspaceId={workspace}&sort=lastName&limit=1&cursor={bad}",
            headers=auth,
        )
        assert_cursor_refused(got)
    for bad in (with_payload(list_cursor, a=[0, "contact_a"]), unsigned):
        got = client.get(f"/v1/contacts?workspaceId={workspace}&limit=1&cursor={bad}", headers=auth)
        assert_cursor_refused(got)


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 40])
def test_a_cursor_carrying_a_non_finite_or_huge_number_is_400(client, workspace, auth, number):
    mark = "0" * 16
    raw = f'{{"v":2,"a":[{number},"contact_a"],"f":"{mark}"}}'.encode()
    for cursor in (b64(raw), f"{b64(raw)}.{b64(b'0' * 32)}"):
        assert_cursor_refused(search(client, workspace, auth, limit=1, cursor=cursor))
        listed = client.get(f"/v1/contacts?workspaceId={workspace}&cursor={cursor}", headers=auth)
        assert_cursor_refused(listed)


def test_a_cursor_of_another_workspace_or_another_query_is_400(client, workspace):
    auth = people(client, workspace)
    other = f"{workspace}_b"
    other_auth = people(client, other)
    both = bearer([workspace, other])
    cursor = search(client, workspace, auth, sort="lastName", limit=1).json["meta"]["nextCursor"]
    # Another workspace, even with a token that holds both: the signature binds the workspace.
    for token in (other_auth, both):
        assert_cursor_refused(search(client, other, token, sort="lastName", limit=1, cursor=cursor))
    listed = client.get(f"/v1/contacts?workspaceId={workspace}&limit=1", headers=auth).json
    replay = client.get(
        f"/v1/contacts?workspaceId={other}&limit=1&cursor={listed['meta']['nextCursor']}",
        headers=both,
    )
    assert_cursor_refused(replay)
    # The same workspace, another query or sort: the fingerprint names the search.
    for body in ({"sort": "firstName"}, {"sort": "lastName", "query": "p1"}):
        again = search(client, workspace, auth, limit=1, cursor=cursor, **body)
        assert_cursor_refused(again, "different search")


def test_a_forged_cursor_cannot_use_or_close_another_workspaces_point_in_time(
    app, client, workspace
):
    victim = f"{workspace}_victim"
    victim_auth = people(client, victim)
    victim_cursor, victim_pit = paged_pit(client, victim, victim_auth)
    auth = people(client, workspace)
    mine = search(client, workspace, auth, sort="lastName", limit=1).json["meta"]["nextCursor"]
    both = bearer([workspace, victim])
    for forged in (
        with_payload(mine, p=victim_pit),  # my signature, the victim's point in time
        victim_cursor,  # the victim's own cursor, replayed in my workspace
    ):
        response = search(client, workspace, both, sort="lastName", limit=1, cursor=forged)
        assert_cursor_refused(response)
    # The victim's point in time is still open, and its paging goes on inside it.
    engine = app.extensions["opensearch"]
    engine.search(body={"pit": {"id": victim_pit, "keep_alive": "1m"}, "size": 0})
    third = search(client, victim, victim_auth, sort="lastName", limit=1, cursor=victim_cursor)
    assert third.status_code == 200 and third.json["data"][0]["lastName"] == "L2"


def budget_app(**settings):
    config = type("BudgetConfig", (TestConfig,), {"PIT_MAX_PER_WORKSPACE": 2, **settings})
    return create_app(config)


def held_pits(app, workspace) -> list[str]:
    with app.app_context():
        from app import services

        return services.search().pits.members(workspace)


def close_all(app, workspace) -> None:
    with app.app_context():
        from app import services

        for pit in held_pits(app, workspace):
            services.search().close_point_in_time(workspace, pit)


def test_replaying_a_first_page_cursor_never_holds_more_points_in_time_than_the_budget(
    app, workspace
):
    api = budget_app()
    client = api.test_client()
    auth = people(client, workspace)
    page_one = search(client, workspace, auth, sort="lastName", limit=1).json["meta"]["nextCursor"]
    try:
        for _ in range(6):  # each replay of a page-1 cursor asks for a new point in time
            page = search(client, workspace, auth, sort="lastName", limit=1, cursor=page_one)
            assert page.status_code == 200 and page.json["data"][0]["lastName"] == "L1"
        held = held_pits(api, workspace)
        assert len(held) == 2
        # Over the budget, paging goes on without a snapshot rather than failing.
        assert "p" not in payload_of(page.json["meta"]["nextCursor"])
    finally:
        close_all(api, workspace)
    assert held_pits(api, workspace) == []


def test_an_export_over_the_workspace_budget_is_429_and_frees_nothing_it_did_not_take(
    app, workspace
):
    api = budget_app(PIT_MAX_PER_WORKSPACE=1)
    client = api.test_client()
    auth = people(client, workspace)
    try:
        paged_pit(client, workspace, auth)  # paging holds the workspace's only slot
        refused = client.get(f"/v1/contacts/export?workspaceId={workspace}", headers=auth)
        assert refused.status_code == 429, refused.data[:300]
        assert refused.json["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 0
        assert len(held_pits(api, workspace)) == 1
        # Another workspace's budget is its own.
        other = f"{workspace}_other"
        other_auth = people(client, other, count=1)
        allowed = client.get(f"/v1/contacts/export?workspaceId={other}", headers=other_auth)
        assert allowed.status_code == 200 and b"#export-incomplete" not in allowed.data
    finally:
        close_all(api, workspace)


def test_an_export_the_engine_refuses_a_point_in_time_is_a_clean_503(app, workspace):
    """The engine's own limit (300 open contexts, node-wide) cannot be reached on demand on
    a server other runs share, so its refusal is injected into create_pit alone."""
    api = budget_app()
    client = api.test_client()
    auth = people(client, workspace, count=1)

    def refuse(*args, **kwargs):
        raise TransportError(429, "rejected_execution_exception", "too many PIT contexts")

    api.extensions["opensearch"].create_pit = refuse
    response = client.get(f"/v1/contacts/export?workspaceId={workspace}", headers=auth)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["error"]["code"] == "service_unavailable"
    assert held_pits(api, workspace) == []  # the reserved slot went back
    paged = search(client, workspace, auth, sort="lastName", limit=1)
    assert paged.status_code == 200  # paging degrades instead


def test_an_export_that_loses_its_snapshot_mid_stream_ends_with_an_error_marker(app, workspace):
    api = budget_app(EXPORT_PAGE_SIZE=2)
    client = api.test_client()
    auth = people(client, workspace, count=5)
    response = client.get(
        f"/v1/contacts/export?workspaceId={workspace}", headers=auth, buffered=False
    )
    assert response.status_code == 200
    chunks = iter(response.response)
    header = next(chunks)
    (pit,) = held_pits(api, workspace)
    api.extensions["opensearch"].delete_pit(body={"pit_id": [pit]})  # a real loss
    rest = b"".join(chunks).decode()
    response.close()
    assert header.decode().lstrip("\ufeff").startswith("id,")
    last = rest.strip().splitlines()[-1]
    assert last.startswith("#export-incomplete,"), rest
    assert held_pits(api, workspace) == []
