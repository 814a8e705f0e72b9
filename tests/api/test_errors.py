"""Every failure answers in the one JSON error shape: no HTML, no stack trace."""

from __future__ import annotations

import json

from app import create_app
from app.config import TestConfig


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert "Traceback" not in response.get_data(as_text=True)
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


def test_malformed_json(client, workspace, auth):
    response = client.post(
        "/v1/contacts", data='{"workspaceId": ', headers=auth, content_type="application/json"
    )
    assert_error(response, 400)


def test_json_that_is_not_an_object(client, auth):
    for body in ("[1, 2]", '"text"', "42", "null"):
        response = client.post(
            "/v1/contacts", data=body, headers=auth, content_type="application/json"
        )
        assert_error(response, 400)


def test_wrong_content_type(client, workspace, auth):
    response = client.post(
        "/v1/contacts",
        data=f"workspaceId={workspace}",
        headers=auth,
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 415, "unsupported_media_type")


def test_unknown_route_and_wrong_method(client, auth):
    assert_error(client.get("/v1/nothing-here", headers=auth), 404, "not_found")
    assert_error(client.get("/index.php"), 404, "not_found")
    assert_error(client.put("/v1/contacts", json={}, headers=auth), 405, "method_not_allowed")
    assert_error(client.put("/v1/contacts/contact_abc", json={}, headers=auth), 405)


def test_body_over_the_limit_is_413(client, workspace, auth):
    notes = "x" * (TestConfig.MAX_CONTENT_LENGTH + 10)
    response = client.post(
        "/v1/contacts",
        data=json.dumps({"workspaceId": workspace, "notes": notes}),
        headers=auth,
        content_type="application/json",
    )
    assert_error(response, 413, "payload_too_large")


def test_opensearch_unreachable_is_503_with_retry_after(workspace):
    class DownConfig(TestConfig):
        OPENSEARCH_HOSTS = ["http://127.0.0.1:9"]
        OPENSEARCH_TIMEOUT = 1.0

    client = create_app(DownConfig).test_client()
    from tests.conftest import bearer

    auth = bearer(workspace)
    for response in (
        client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth),
        client.post(
            "/v1/contacts", json={"workspaceId": workspace, "firstName": "A"}, headers=auth
        ),
        client.get("/v1/contacts/contact_abcdefgh", headers=auth),
    ):
        assert_error(response, 503, "service_unavailable")
        assert int(response.headers["Retry-After"]) > 0
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["opensearch"]["ok"] is False


def test_redis_unreachable_degrades_readiness():
    class DownConfig(TestConfig):
        REDIS_URL = "redis://127.0.0.1:9/0"

    # Redis is a cache (DNC falls back to OpenSearch): degraded, still in rotation.
    ready = create_app(DownConfig).test_client().get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "degraded"
    assert ready.json["checks"]["redis"]["ok"] is False


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert all(check["ok"] for check in ready.json["checks"].values())


def test_openapi_documents_every_route_the_error_shape_and_bearer(client, app):
    spec = client.get("/openapi.json").json
    documented = {
        (path, method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "patch", "delete", "put")
    }
    for rule in app.url_map.iter_rules():
        # /metrics speaks Prometheus text to scrapers, and the console serves a web page
        # and its assets, not JSON to API clients.
        if (
            rule.endpoint in ("static",)
            or rule.endpoint.startswith(("api-docs", "console"))
            or (rule.rule == "/metrics")
        ):
            continue
        path = rule.rule.replace("<string:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "Error" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_cors_preflight_allows_configured_origin(client):
    response = client.options(
        "/v1/contacts",
        headers={
            "Origin": TestConfig.CORS_ORIGINS[0],
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.headers["Access-Control-Allow-Origin"] == TestConfig.CORS_ORIGINS[0]
    other = client.options(
        "/v1/contacts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_exposes_location_to_browser_clients(client, auth):
    """A browser client reads Location (a merged-away contact's survivor, a new import)."""
    response = client.get(
        "/v1/contacts/ct_does_not_exist",
        headers={**auth, "Origin": TestConfig.CORS_ORIGINS[0]},
    )
    exposed = response.headers["Access-Control-Expose-Headers"].split(",")
    assert {"location", "etag", "retry-after", "x-request-id"} <= {
        header.strip().lower() for header in exposed
    }


def test_missing_indices_are_a_503_not_a_500(auth, workspace):
    """A deployment that never created its indices (or lost an alias) is unavailable."""

    class Unindexed(TestConfig):
        INDEX_PREFIX = "never-created-"

    client = create_app(Unindexed).test_client()
    for response in (
        client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth),
        client.post(
            "/v1/contacts/search", json={"workspaceId": workspace, "query": "a"}, headers=auth
        ),
    ):
        assert response.status_code == 503, response.json
        assert response.json["error"]["code"] == "service_unavailable"
        assert response.headers["Retry-After"]
