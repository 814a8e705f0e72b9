"""OpenSearch dies: acknowledged writes survive kill -9; outages are 503s that heal."""

from __future__ import annotations

from app import create_app
from app.config import TestConfig
from app.search.indices import ensure_all
from tests.conftest import bearer


def app_on(node):
    class NodeConfig(TestConfig):
        OPENSEARCH_HOSTS = [node.url]
        OPENSEARCH_TIMEOUT = 5.0

    app = create_app(NodeConfig)
    ensure_all(app.extensions["opensearch"], app.config["INDEX_PREFIX"])
    return app


def test_acknowledged_writes_survive_kill_9(fault_node, workspace):
    app = app_on(fault_node)
    client, auth = app.test_client(), bearer(workspace)
    acknowledged = {}
    for i in range(40):
        response = client.post(
            "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": f"Acked {i}"}
        )
        assert response.status_code == 201
        acknowledged[response.json["data"]["id"]] = response.json["data"]
    last_id = next(reversed(acknowledged))
    patched = client.patch(f"/v1/contacts/{last_id}", json={"notes": "edited"}, headers=auth)
    assert patched.status_code == 200
    acknowledged[last_id] = patched.json["data"]

    fault_node.kill()  # no flush, no refresh: only the translog holds these writes
    fault_node.start()

    for contact_id, contact in acknowledged.items():
        response = client.get(f"/v1/contacts/{contact_id}", headers=auth)
        assert response.status_code == 200, (contact_id, response.json)
        assert response.json["data"] == contact


def test_outage_answers_503_and_the_api_recovers_by_itself(fault_node, workspace):
    app = app_on(fault_node)
    client, auth = app.test_client(), bearer(workspace)
    created = client.post(
        "/v1/contacts", json={"workspaceId": workspace, "firstName": "Kept"}, headers=auth
    ).json["data"]

    fault_node.kill()
    down = [
        client.get(f"/v1/contacts/{created['id']}", headers=auth),
        client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth),
        client.post(
            "/v1/contacts", json={"workspaceId": workspace, "firstName": "X"}, headers=auth
        ),
        client.patch(f"/v1/contacts/{created['id']}", json={"notes": "x"}, headers=auth),
    ]
    for response in down:
        assert response.status_code == 503, response.json
        assert response.json["error"]["code"] == "service_unavailable"
        assert int(response.headers["Retry-After"]) > 0
    ready = client.get("/readyz")
    assert ready.status_code == 503 and not ready.json["checks"]["opensearch"]["ok"]

    fault_node.start()  # the same app instance, not restarted
    assert client.get("/readyz").status_code == 200
    again = client.get(f"/v1/contacts/{created['id']}", headers=auth)
    assert again.status_code == 200 and again.json["data"] == created
