"""A read that misses a shard is never served as whole: retried, then a 503.

A single node cannot lose half a cluster, but it can hold an index whose only shard
is unassigned (allocation required on a node that does not exist): put behind this
run's read alias, every search and multi-get through the alias misses that shard,
exactly as they would while a lost node's shards await promotion.
"""

from __future__ import annotations

import uuid

import pytest

from app import create_app
from app.config import TestConfig
from app.search.indices import IndexNames, drop_all, ensure_all
from tests.conftest import bearer


@pytest.fixture
def own_app():
    class OwnConfig(TestConfig):
        INDEX_PREFIX = f"{TestConfig.INDEX_PREFIX}partial-{uuid.uuid4().hex[:6]}-"

    app = create_app(OwnConfig)
    client = app.extensions["opensearch"]
    ensure_all(client, OwnConfig.INDEX_PREFIX)
    yield app
    drop_all(client, OwnConfig.INDEX_PREFIX)


def add_unreadable_shard(app) -> str:
    """An index with one unassignable shard, behind the contacts read alias."""
    client = app.extensions["opensearch"]
    names = IndexNames(app.config["INDEX_PREFIX"], "contacts")
    red = f"{names.read}-unassigned"
    client.indices.create(
        index=red,
        body={
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "number_of_replicas": 0,
                    "routing.allocation.require._name": "no-such-node",
                }
            }
        },
        params={"wait_for_active_shards": "0"},
    )
    client.indices.update_aliases(body={"actions": [{"add": {"index": red, "alias": names.read}}]})
    return red


def test_list_search_and_get_answer_503_while_a_shard_is_missing_then_recover(own_app, workspace):
    client, auth = own_app.test_client(), bearer(workspace)
    created = client.post(
        "/v1/contacts",
        headers=auth,
        json={"workspaceId": workspace, "firstName": "Whole", "phone": "+14155550100"},
    )
    assert created.status_code == 201
    contact_id = created.json["data"]["id"]
    red = add_unreadable_shard(own_app)

    reads = {
        "list": client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth),
        "search": client.post(
            "/v1/contacts/search", headers=auth, json={"workspaceId": workspace, "query": "whole"}
        ),
        "get": client.get(f"/v1/contacts/{contact_id}", headers=auth),
    }
    for name, response in reads.items():
        # Before: 200 with the healthy shard's hits only (or a 404 for the GET).
        assert response.status_code == 503, (name, response.status_code, response.json)
        assert response.headers["Retry-After"], name
        assert response.json["error"]["code"] == "service_unavailable", name
        assert {"code", "message"} <= set(response.json["error"]) <= {"code", "message", "details"}

    own_app.extensions["opensearch"].indices.delete(index=red)
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json["data"]] == [contact_id]
    assert client.get(f"/v1/contacts/{contact_id}", headers=auth).status_code == 200


def test_dnc_check_fails_closed_when_the_record_misses_a_shard(own_app, workspace):
    client, auth = own_app.test_client(), bearer(workspace)
    added = client.post(
        "/v1/dnc", headers=auth, json={"workspaceId": workspace, "phone": "+14155550101"}
    )
    assert added.status_code in (200, 201)
    names = IndexNames(own_app.config["INDEX_PREFIX"], "dnc")
    red = f"{names.read}-unassigned"
    own_app.extensions["opensearch"].indices.create(
        index=red,
        body={"settings": {"index.routing.allocation.require._name": "no-such-node"}},
        params={"wait_for_active_shards": "0"},
    )
    own_app.extensions["opensearch"].indices.update_aliases(
        body={"actions": [{"add": {"index": red, "alias": names.read}}]}
    )
    # Listed numbers stay listed whatever the record can answer; never "callable".
    check = client.get(f"/v1/dnc/check?workspaceId={workspace}&phone=%2B14155550101", headers=auth)
    assert check.status_code in (200, 503)
    if check.status_code == 200:
        assert check.json["data"]["dnc"] is True
