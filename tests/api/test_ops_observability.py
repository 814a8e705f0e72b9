"""Request ids, JSON logs, /metrics and /readyz against the real servers."""

from __future__ import annotations

import io
import json
import logging
import socket

import pytest
from prometheus_client import REGISTRY

from app import create_app, observability
from app.config import TestConfig


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_request_id_is_taken_or_made_and_returned(client, auth, workspace):
    given = client.get(
        f"/v1/contacts?workspaceId={workspace}", headers={**auth, "X-Request-ID": "abc-123"}
    )
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz")
    assert len(made.headers["X-Request-ID"]) == 32
    hostile = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert hostile.headers["X-Request-ID"] != "x" * 500
    error = client.get("/v1/contacts/contact_missing", headers={**auth, "X-Request-ID": "err-1"})
    assert error.status_code == 404 and error.headers["X-Request-ID"] == "err-1"


def test_logs_are_json_lines_carrying_the_request_id(client, auth, workspace):
    stream = io.StringIO()
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_contacts_handler", 0))
    original = handler.setStream(stream)
    try:
        client.get(
            f"/v1/contacts?workspaceId={workspace}", headers={**auth, "X-Request-ID": "log-1"}
        )
    finally:
        handler.setStream(original)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = next(line for line in lines if line["logger"] == "app.access")
    assert access["request_id"] == "log-1"
    assert access["route"] == "/v1/contacts" and access["status"] == 200
    assert {"time", "level", "message", "duration_ms"} <= access.keys()


COUNTED = [
    ("import_jobs_total", {"status": "completed"}),
    ("import_rows_total", {"outcome": "created"}),
    ("dnc_cache_lookups_total", {"result": "miss"}),
]


def sample(name: str, labels: dict) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_expose_routes_backends_and_counters(client, auth, workspace):
    client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth)
    client.get("/v1/contacts/contact_nope", headers=auth)
    # A keyed create surely talks to Redis (its idempotency record).
    keyed = {**auth, "Idempotency-Key": f"metrics-{workspace}"}
    client.post("/v1/contacts", json={"workspaceId": workspace, "firstName": "M"}, headers=keyed)
    # The import and DNC counters move with real requests, not with calls of the test's own.
    before = {name: sample(name, labels) for name, labels in COUNTED}
    imported = client.post(
        f"/v1/contacts/import?workspaceId={workspace}",
        data=b"First Name,Phone\nAda,+14155550191\nBo,not-a-phone\n",
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.json
    phones = ["+14155550191", "+14155550192"]
    for _ in range(2):  # the first may find no cache yet (a miss) and build it
        client.post(
            "/v1/dnc/check", json={"workspaceId": workspace, "phones": phones}, headers=auth
        )
    after = {name: sample(name, labels) for name, labels in COUNTED}
    assert after["import_jobs_total"] == before["import_jobs_total"] + 1
    assert after["import_rows_total"] >= before["import_rows_total"] + 1
    assert after["dnc_cache_lookups_total"] > before["dnc_cache_lookups_total"]
    scraper = {"Authorization": f"Bearer {TestConfig.METRICS_TOKEN}"}
    text = client.get("/metrics", headers=scraper).get_data(as_text=True)
    assert (
        'http_request_duration_seconds_bucket{le="0.05",method="GET",route="/v1/contacts",status="200"}'
        in text
    )
    assert 'route="/v1/contacts/<string:contact_id>",status="404"' in text
    assert 'opensearch_request_duration_seconds_count{operation="POST _search"}' in text
    assert "redis_command_duration_seconds_count" in text
    assert 'import_jobs_total{status="completed"}' in text
    assert 'import_rows_total{outcome="created"}' in text
    assert 'import_rows_total{outcome="invalid"}' in text
    assert 'dnc_cache_lookups_total{result="miss"}' in text
    assert "/metrics" not in text.split("http_request_duration_seconds")[1].split("# HELP")[0]


def test_metrics_refuse_callers_without_the_metrics_token(client, auth):
    for headers in ({}, auth, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json["error"]["code"] == "unauthorized"
        assert "http_request_duration_seconds" not in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    ("settings", "status"),
    [
        ({"METRICS_TOKEN": ""}, 404),  # the default: no token, not public -> not served
        ({"METRICS_TOKEN": "", "METRICS_PUBLIC": True}, 200),
        ({"METRICS_TOKEN": "t", "METRICS_ENABLED": False}, 404),
    ],
)
def test_metrics_are_not_public_unless_configured_so(settings, status):
    config = type("MetricsConfig", (TestConfig,), settings)
    response = create_app(config).test_client().get("/metrics")
    assert response.status_code == status
    if status == 404:
        assert response.json["error"]["code"] == "not_found"


def test_the_default_configuration_does_not_serve_metrics():
    from app.config import Config

    assert Config.METRICS_PUBLIC is False
    assert Config.METRICS_TOKEN == "" or "METRICS_TOKEN" in __import__("os").environ


def test_backend_errors_are_counted():
    class DownConfig(TestConfig):
        OPENSEARCH_HOSTS = [f"http://127.0.0.1:{closed_port()}"]
        OPENSEARCH_TIMEOUT = 1

    app = create_app(DownConfig)
    with app.app_context():
        with pytest.raises(Exception):  # noqa: B017 (any connection failure)
            app.extensions["opensearch"].info()
    sample = observability.OPENSEARCH_ERRORS.labels("GET index", "ConnectionError")
    assert sample._value.get() >= 1


def test_readyz_gates_on_opensearch_and_degrades_without_redis(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"

    class NoRedis(TestConfig):
        REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    degraded = create_app(NoRedis).test_client().get("/readyz")
    assert degraded.status_code == 200
    assert degraded.json["status"] == "degraded" and not degraded.json["checks"]["redis"]["ok"]

    class NoOpenSearch(TestConfig):
        OPENSEARCH_HOSTS = [f"http://127.0.0.1:{closed_port()}"]

    down = create_app(NoOpenSearch).test_client().get("/readyz")
    assert down.status_code == 503 and down.json["status"] == "unavailable"

    class NoIndices(TestConfig):
        INDEX_PREFIX = "never-created-"

    missing = create_app(NoIndices).test_client().get("/readyz")
    assert missing.status_code == 503 and not missing.json["checks"]["indices"]["ok"]
