"""Cursor paging over 25,000 contacts: no duplicate, no gap, through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from opensearchpy import helpers

from app.search.documents import to_document
from app.search.indices import IndexNames
from app.services.contact_rules import new_contact_id
from devtools import fakedata
from tests.conftest import bearer

COUNT = 25_000


@pytest.fixture(scope="module")
def big(app):
    """25k realistic contacts, bulk-loaded into this run's index (not through HTTP).

    createdAt repeats every 7 rows, so paging must lean on the id tie-breaker."""
    workspace = f"ws_big_{uuid.uuid4().hex[:8]}"
    names = IndexNames(app.config["INDEX_PREFIX"], "contacts")
    base = datetime(2025, 1, 1, tzinfo=UTC)
    ids = []

    def actions():
        for n, row in enumerate(fakedata.contacts(COUNT, seed=7)):
            # fakedata phones are E.164 already: skip parsing 25k numbers.
            contact = {"id": new_contact_id(), "workspaceId": workspace, **row}
            stamp = (base + timedelta(seconds=n // 7)).isoformat(timespec="milliseconds")
            contact["createdAt"] = contact["updatedAt"] = stamp.replace("+00:00", "Z")
            ids.append(contact["id"])
            yield {
                "_index": names.write,
                "_id": contact["id"],
                "_routing": workspace,
                "_source": to_document(contact),
            }

    client = app.extensions["opensearch"]
    helpers.bulk(client, actions(), chunk_size=2500, refresh="wait_for")
    return workspace, ids


def page_all(client, workspace, path_or_body, *, get=False):
    auth = bearer(workspace)
    seen, cursor, pages = [], None, 0
    while True:
        if get:
            url = path_or_body + (f"&cursor={cursor}" if cursor else "")
            response = client.get(url, headers=auth)
        else:
            body = {"workspaceId": workspace, **path_or_body, "cursor": cursor}
            response = client.post("/v1/contacts/search", json=body, headers=auth)
        assert response.status_code == 200, response.json
        page = response.json
        seen += [hit["id"] for hit in page["data"]]
        pages += 1
        cursor = page["meta"]["nextCursor"]
        if not cursor:
            return seen, pages, page["meta"]


@pytest.mark.parametrize("sort", ["lastName", "relevance"])
def test_search_cursor_pages_every_contact_once(client, big, sort):
    workspace, ids = big
    seen, pages, meta = page_all(client, workspace, {"sort": sort, "limit": 100})
    assert len(seen) == len(set(seen)) == COUNT
    assert set(seen) == set(ids)
    assert pages == COUNT // 100 and meta["hasMore"] is False
    assert meta["total"] == 10_000 and meta["totalIsExact"] is False  # counting stops early


def test_search_cursor_with_a_query_matches_the_engine_count(client, big, app):
    workspace, _ = big
    body = {"query": "mar", "filters": {"tags": {"any": ["lead", "vip"]}}, "limit": 100}
    seen, _, _ = page_all(client, workspace, body)
    assert len(seen) == len(set(seen)) > 100
    from app.search import queries, readings

    engine = app.extensions["opensearch"].count(
        index=f"{app.config['INDEX_PREFIX']}contacts",
        routing=workspace,
        body={
            "query": queries.build_search_body(
                workspace, readings.parse_query("mar"), body["filters"], sort=None, size=0
            )["query"]
        },
    )
    assert len(seen) == engine["count"]


def test_contacts_list_cursor_pages_every_contact_once(client, big):
    workspace, ids = big
    seen, pages, meta = page_all(
        client, workspace, f"/v1/contacts?workspaceId={workspace}&limit=100", get=True
    )
    assert len(seen) == len(set(seen)) == COUNT and set(seen) == set(ids)
    assert meta["total"] == COUNT and meta["totalIsExact"] is True


def test_the_last_offset_page_of_the_result_window_is_served(client, big):
    """offset + limit == 10,000 is allowed; more rows follow, reachable by cursor."""
    workspace, ids = big
    auth = bearer(workspace)
    listed = client.get(f"/v1/contacts?workspaceId={workspace}&offset=9990&limit=10", headers=auth)
    searched = client.post(
        "/v1/contacts/search",
        headers=auth,
        json={"workspaceId": workspace, "sort": "createdAt", "offset": 9990, "limit": 10},
    )
    for response in (listed, searched):
        assert response.status_code == 200, response.json
        assert len(response.json["data"]) == 10
        assert response.json["meta"]["hasMore"] is True and response.json["meta"]["nextCursor"]
    after = client.get(
        f"/v1/contacts?workspaceId={workspace}&limit=10&cursor={listed.json['meta']['nextCursor']}",
        headers=auth,
    ).json["data"]
    assert len(after) == 10 and not {c["id"] for c in after} & {
        c["id"] for c in listed.json["data"]
    }
