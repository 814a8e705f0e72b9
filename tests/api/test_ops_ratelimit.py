"""Per-token rate limits in the real Redis; fail-open to local buckets when Redis is down."""

from __future__ import annotations

import socket

import pytest

from app import create_app
from app.config import TestConfig
from app.ratelimit import limit_scope, parse_limits
from tests.conftest import bearer


class Limited(TestConfig):
    RATE_LIMIT_ENABLED = True
    RATE_LIMITS = "default=100/60,contacts:read=3/60,contacts:write=2/1,anonymous=2/60"


@pytest.fixture(scope="module")
def limited(app):  # `app` made the indices
    return create_app(Limited).test_client()


def listing(client, workspace, headers):
    return client.get(f"/v1/contacts?workspaceId={workspace}", headers=headers)


def test_a_token_gets_its_limit_then_429_with_headers(limited, workspace):
    auth = bearer(workspace)
    first = listing(limited, workspace, auth)
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert int(first.headers["X-RateLimit-Reset"]) >= 1
    listing(limited, workspace, auth)
    listing(limited, workspace, auth)
    refused = listing(limited, workspace, auth)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert "contacts:read" in refused.json["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # Another token has its own bucket; another scope of the same token too.
    assert listing(limited, workspace, bearer(workspace)).status_code == 200
    created = limited.post(
        "/v1/contacts", json={"workspaceId": workspace, "firstName": "A"}, headers=auth
    )
    assert created.status_code == 201
    # Probes are never limited.
    assert all(limited.get("/healthz").status_code == 200 for _ in range(5))


def test_buckets_refill_and_keys_carry_the_prefix(app, limited, workspace):
    import time

    auth = bearer(workspace)
    body = {"workspaceId": workspace, "phone": "(415) 555-1234"}
    assert (
        limited.post(
            "/v1/contacts/normalize", json={"phone": "4155551234"}, headers=auth
        ).status_code
        == 200
    )
    codes = [
        limited.post("/v1/contacts", json=body | {"firstName": str(n)}, headers=auth).status_code
        for n in range(3)
    ]
    assert codes == [201, 201, 429]
    time.sleep(0.6)  # 2 per second: one token back after half a second
    assert limited.post("/v1/contacts", json=body, headers=auth).status_code == 201
    redis_client = app.extensions["redis"]
    prefix = app.config["REDIS_KEY_PREFIX"]
    keys = list(redis_client.scan_iter(match=f"{prefix}ratelimit:*"))
    assert keys and all(k.decode().startswith(prefix + "ratelimit:{token:") for k in keys)


def test_requests_without_a_valid_token_share_an_address_bucket(limited, workspace):
    codes = [
        listing(limited, workspace, {"Authorization": "Bearer junk"}).status_code for _ in range(3)
    ]
    assert codes == [401, 401, 429]


def test_redis_down_fails_open_to_per_process_buckets(workspace):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    class NoRedis(Limited):
        REDIS_URL = f"redis://127.0.0.1:{port}/0"

    client = create_app(NoRedis).test_client()
    auth = bearer(workspace)
    codes = [listing(client, workspace, auth).status_code for _ in range(4)]
    # Served while Redis is down, and still limited per process.
    assert codes == [200, 200, 200, 429]


def test_scopes_and_limit_specs():
    assert limit_scope("GET", "/v1/contacts") == "contacts:read"
    assert limit_scope("POST", "/v1/contacts/search") == "contacts:read"
    assert limit_scope("PATCH", "/v1/contacts/contact_x") == "contacts:write"
    assert limit_scope("GET", "/v1/contacts/export") == "contacts:export"
    assert limit_scope("POST", "/v1/contacts/import") == "contacts:import"
    assert limit_scope("POST", "/v1/dnc") == "dnc:write"
    assert limit_scope("GET", "/v1/dnc/check") == "dnc:read"
    limits = parse_limits("a=10/60, b=5/1")
    assert (limits["a"].limit, limits["a"].period, limits["b"].period) == (10, 60.0, 1.0)


def dnc_import(client, workspace, auth):
    return client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data="+14155550181\n",
        content_type="text/csv",
        headers=auth,
    )


def test_dnc_import_is_limited_by_its_own_entry_not_the_default(app, workspace):
    class DncImportLimited(Limited):
        RATE_LIMITS = "default=100/60,contacts:import=5/60,dnc:import=2/60"

    client = create_app(DncImportLimited).test_client()
    auth = bearer(workspace)
    codes = [dnc_import(client, workspace, auth).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = dnc_import(client, workspace, auth)
    assert "dnc:import" in refused.json["error"]["message"]
    # The bulk check is a read, in its own bucket: still served.
    check = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": ["4155550181"]}, headers=auth
    )
    assert check.status_code == 200


def test_dnc_import_without_an_entry_takes_the_import_limit_not_the_default(app, workspace):
    class NoDncImportEntry(Limited):
        RATE_LIMITS = "default=100/60,contacts:import=1/60"

    client = create_app(NoDncImportEntry).test_client()
    auth = bearer(workspace)
    codes = [dnc_import(client, workspace, auth).status_code for _ in range(2)]
    assert codes == [200, 429]


def test_the_shipped_limits_name_every_heavy_scope():
    from app.config import Config

    limits = parse_limits(Config.RATE_LIMITS)
    assert limit_scope("POST", "/v1/dnc/import") == "dnc:import"
    for scope in ("contacts:import", "contacts:export", "dnc:import"):
        assert limits[scope].limit <= 20, scope
