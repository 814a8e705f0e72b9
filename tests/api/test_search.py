"""Search behaviour, flow-style: filters, sorts, paging, isolation, freshness, bad input."""

from __future__ import annotations

import time

import pytest

from tests.conftest import bearer


def create(client, workspace, auth, refresh="wait_for", **fields):
    response = client.post(
        f"/v1/contacts?refresh={refresh}", json={"workspaceId": workspace, **fields}, headers=auth
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def refresh(client):
    app = client.application
    app.extensions["opensearch"].indices.refresh(index=f"{app.config['INDEX_PREFIX']}contacts")


def search(client, workspace, auth, status=200, **body):
    response = client.post(
        "/v1/contacts/search", json={"workspaceId": workspace, **body}, headers=auth
    )
    assert response.status_code == status, response.json
    return response.json


def names(result):
    return [hit["firstName"] for hit in result["data"]]


@pytest.fixture
def crowd(client, workspace, auth):
    people = [
        dict(firstName="Ann", lastName="Zed", company="Acme Inc", tags=["vip", "lead"],
             phone="+14155550001", email="ann@acme.com"),
        dict(firstName="Bob", lastName="Young", company="acme inc", tags=["lead"]),
        dict(firstName="Cid", lastName="Xu", company="Globex", tags=["vip"],
             email="cid@globex.com"),
        dict(firstName="Dee", lastName="Wu", company="Acme Incorporated", phone="+14155550004"),
        dict(firstName="Eve", lastName="Vo", tags=["Churned"]),
    ]  # fmt: skip
    created = [create(client, workspace, auth, refresh="false", **p) for p in people]
    refresh(client)
    return created


def test_get_and_post_agree_and_hits_carry_highlights(client, workspace, auth, crowd):
    posted = search(client, workspace, auth, query="acm", filters={"tags": ["lead"]})
    got = client.get(
        f"/v1/contacts/search?workspaceId={workspace}&query=acm&tags=lead", headers=auth
    ).json
    assert posted == got
    assert sorted(names(posted)) == ["Ann", "Bob"]
    hit = posted["data"][0]
    assert {"field": "company", "value": hit["company"], "spans": [{"start": 0, "end": 3}]} in hit[
        "highlights"
    ]
    assert posted["meta"] == {
        "total": 2,
        "totalIsExact": True,
        "hasMore": False,
        "nextCursor": None,
    }


def test_filters(client, workspace, auth, crowd):
    def only(**filters):
        return sorted(names(search(client, workspace, auth, filters=filters)))

    assert only(company="ACME INC") == ["Ann", "Bob"]  # exact, case-insensitive
    assert only(tags={"any": ["vip", "churned"]}) == ["Ann", "Cid", "Eve"]
    assert only(tags={"all": ["VIP", "lead"]}) == ["Ann"]
    assert only(hasPhone=True) == ["Ann", "Dee"]
    assert only(hasEmail=False) == ["Bob", "Dee", "Eve"]
    assert only(dnc=False) == ["Ann", "Bob", "Cid", "Dee", "Eve"]
    assert only(dnc=True) == []
    middle = crowd[2]["createdAt"]
    assert only(createdAt={"gte": middle}) == ["Cid", "Dee", "Eve"]
    assert only(createdAt={"lt": middle}, hasPhone=True) == ["Ann"]
    assert only(updatedAt={"lte": crowd[0]["updatedAt"]}) == ["Ann"]
    flat = client.get(
        f"/v1/contacts/search?workspaceId={workspace}&createdFrom={middle}&tagsAll=vip",
        headers=auth,
    ).json
    assert names(flat) == ["Cid"]


def test_empty_query_with_filters_is_a_listing_newest_first(client, workspace, auth, crowd):
    result = search(client, workspace, auth, filters={"hasPhone": False})
    assert names(result) == ["Eve", "Cid", "Bob"]
    assert all(hit["highlights"] == [] for hit in result["data"])


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("firstName", ["Ann", "Bob", "Cid", "Dee", "Eve"]),
        ("firstName:desc", ["Eve", "Dee", "Cid", "Bob", "Ann"]),
        ("lastName", ["Eve", "Dee", "Cid", "Bob", "Ann"]),
        # "Acme Inc" and "acme inc" tie: newest first; a missing company sorts last.
        ("company", ["Bob", "Ann", "Dee", "Cid", "Eve"]),
        ("createdAt", ["Eve", "Dee", "Cid", "Bob", "Ann"]),
        ("createdAt:asc", ["Ann", "Bob", "Cid", "Dee", "Eve"]),
        ("updatedAt:desc", ["Eve", "Dee", "Cid", "Bob", "Ann"]),
    ],
)
def test_sorts(client, workspace, auth, crowd, sort, expected):
    assert names(search(client, workspace, auth, sort=sort)) == expected


def test_offset_limit_and_cursor_cover_the_same_rows(client, workspace, auth, crowd):
    first = search(client, workspace, auth, sort="firstName", limit=2)
    assert names(first) == ["Ann", "Bob"] and first["meta"]["hasMore"] is True
    assert names(search(client, workspace, auth, sort="firstName", limit=2, offset=2)) == [
        "Cid",
        "Dee",
    ]
    seen, cursor = names(first), first["meta"]["nextCursor"]
    while cursor:
        page = search(client, workspace, auth, sort="firstName", limit=2, cursor=cursor)
        seen += names(page)
        cursor = page["meta"]["nextCursor"]
    assert seen == ["Ann", "Bob", "Cid", "Dee", "Eve"]


def test_cursor_pages_a_snapshot_while_contacts_change(client, workspace, auth):
    ids = [
        create(client, workspace, auth, refresh="false", firstName=f"P{i:02d}")["id"]
        for i in range(30)
    ]
    refresh(client)
    body = {"sort": "firstName", "limit": 10}
    first = search(client, workspace, auth, **body)
    second = search(client, workspace, auth, cursor=first["meta"]["nextCursor"], **body)
    # Between pages: the last contact moves to the front, a new one appears, one goes away.
    client.patch(f"/v1/contacts/{ids[-1]}?refresh=wait_for", json={"firstName": "A0"}, headers=auth)
    create(client, workspace, auth, firstName="A1")
    client.delete(f"/v1/contacts/{ids[25]}?refresh=wait_for", headers=auth)
    third = search(client, workspace, auth, cursor=second["meta"]["nextCursor"], **body)
    assert third["meta"]["nextCursor"] is None
    seen = [hit["id"] for page in (first, second, third) for hit in page["data"]]
    assert seen == ids  # the point in time: no duplicate, no miss


def test_cursor_survives_an_expired_point_in_time(client, workspace, auth, crowd):
    body = {"sort": "lastName", "limit": 2}
    first = search(client, workspace, auth, **body)
    second = search(client, workspace, auth, cursor=first["meta"]["nextCursor"], **body)
    client.application.extensions["opensearch"].delete_all_pits()
    third = search(client, workspace, auth, cursor=second["meta"]["nextCursor"], **body)
    assert names(first) + names(second) + names(third) == ["Eve", "Dee", "Cid", "Bob", "Ann"]


def test_contacts_list_pages_by_cursor(client, workspace, auth):
    ids = [
        create(client, workspace, auth, refresh="false", firstName=f"L{i}")["id"] for i in range(7)
    ]
    refresh(client)
    seen, cursor = [], None
    while True:
        query = f"/v1/contacts?workspaceId={workspace}&limit=3" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = client.get(query, headers=auth).json
        seen += [c["id"] for c in page["data"]]
        cursor = page["meta"]["nextCursor"]
        assert page["meta"]["hasMore"] is (cursor is not None)
        if not cursor:
            break
    assert seen == ids[::-1]


def test_workspaces_are_isolated(client, workspace, auth):
    create(client, workspace, auth, firstName="Shared", lastName="Name", phone="+14155550009")
    other = "ws_other_" + workspace[3:]
    other_auth = bearer(other)
    create(client, other, other_auth, firstName="Shared", lastName="Name", phone="+14155550009")
    for query in ("shared", "4155550009", "", "name"):
        mine = search(client, workspace, auth, query=query)
        assert {hit["workspaceId"] for hit in mine["data"]} == {workspace}
        assert mine["meta"]["total"] == 1
    # A token without the workspace is refused, whatever else it holds.
    refused = search(client, other, auth, status=403, query="shared")
    assert refused["error"]["code"] == "forbidden"
    assert client.get(f"/v1/contacts/search?workspaceId={other}", headers=auth).status_code == 403
    no_scope = bearer(workspace, scope="dnc:read")
    assert search(client, workspace, no_scope, status=403)["error"]["code"] == "forbidden"
    assert client.post("/v1/contacts/search", json={"workspaceId": workspace}).status_code == 401
    # A cursor of one workspace's search cannot page another's.
    first = search(client, workspace, auth, limit=1, query="")
    create(client, workspace, auth, firstName="Second")
    page = search(client, workspace, auth, limit=1)
    replay = search(
        client, other, other_auth, status=400, limit=1, cursor=page["meta"]["nextCursor"]
    )
    assert replay["error"]["details"][0]["field"] == "cursor" and first


HOSTILE = [
    '"',
    "*",
    "?",
    ":",
    "\\",
    "/",
    "()",
    "[]",
    "{}",
    "~",
    "^",
    "!",
    '"*?:\\/()[]{}~^!',
    "name:Ann OR 1=1",
    "Ann AND NOT Bob",
    "a" * 200,
    "<script>alert(1)</script>",
    "'; DROP TABLE contacts; --",
    "\u0000\u202e\ufeff",
    "ann " * 10,
    "+++---",
    "(((415",
    "ann\\",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_query_strings_are_harmless(client, workspace, auth, crowd, query):
    for response in (
        client.post(
            "/v1/contacts/search", json={"workspaceId": workspace, "query": query}, headers=auth
        ),
        client.get(
            "/v1/contacts/search",
            query_string={"workspaceId": workspace, "query": query},
            headers=auth,
        ),
    ):
        assert response.status_code == 200, response.json
        assert isinstance(response.json["data"], list)


def test_bad_input_is_a_400_naming_the_field(client, workspace, auth):
    cases = [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 9995, "limit": 10}, "offset"),
        ({"sort": "email"}, "sort"),
        # errors.py reads a top-level "query" key as webargs' location and reports
        # these two under "body"; the message still says what is wrong.
        ({"query": "x" * 201}, ("query", "body")),
        ({"query": " ".join(["w"] * 11)}, ("query", "body")),
        ({"filters": {"nope": 1}}, "filters.nope"),
        ({"filters": {"createdAt": {"gte": "yesterday"}}}, "filters.createdAt.gte"),
        ({"filters": {"tags": {"any": "vip"}}}, "filters.tags.any"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJ2IjoxfQ", "offset": 10}, "cursor"),
        ({"unknown": True}, "unknown"),
    ]
    for body, field in cases:
        result = search(client, workspace, auth, status=400, **body)
        assert result["error"]["code"] == "validation_error"
        fields = [d["field"] for d in result["error"]["details"]]
        assert set(fields) & ({field} if isinstance(field, str) else set(field)), (body, result)
    missing = client.post("/v1/contacts/search", json={"query": "x"}, headers=auth)
    assert missing.status_code == 400
    bad_get = client.get(
        f"/v1/contacts/search?workspaceId={workspace}&hasPhone=maybe", headers=auth
    )
    assert bad_get.status_code == 400


def test_writes_with_refresh_wait_for_are_searchable_at_once(client, workspace, auth):
    contact = create(
        client, workspace, auth, refresh="wait_for", firstName="Fresh", lastName="Face"
    )
    assert names(search(client, workspace, auth, query="fresh")) == ["Fresh"]
    client.patch(
        f"/v1/contacts/{contact['id']}?refresh=wait_for",
        json={"firstName": "Renamed"},
        headers=auth,
    )
    assert names(search(client, workspace, auth, query="renamed")) == ["Renamed"]
    assert search(client, workspace, auth, query="fresh")["data"] == []
    client.delete(f"/v1/contacts/{contact['id']}?refresh=wait_for", headers=auth)
    assert search(client, workspace, auth, query="renamed")["data"] == []


def test_writes_without_refresh_become_searchable_within_the_refresh_interval(
    client, workspace, auth
):
    create(client, workspace, auth, refresh="false", firstName="Eventually")
    # refresh_interval is 1 s; the bound is only there so a broken refresh cannot hang the
    # suite (how fast it shows up is the benchmark's business, not a test's).
    deadline = time.monotonic() + 30
    while not search(client, workspace, auth, query="eventually")["data"]:
        assert time.monotonic() < deadline, "never became searchable without a refresh"
        time.sleep(0.1)


def test_hits_carry_the_read_time_dnc_flag(client, workspace, auth, crowd):
    result = search(client, workspace, auth, query="ann")
    assert "dnc" in result["data"][0]
