"""DNC checks when Redis or OpenSearch is gone: answers stay right, or the call is a 503.

Each test runs its own throwaway redis-server (the shared one is never touched) and
points a separate app at it; "OpenSearch down" is a closed port.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

from app import create_app, services
from app.cli.dnc import rebuild
from app.config import TestConfig
from tests.conftest import bearer
from tests.servers import OwnRedis

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")

LISTED, ALSO_LISTED, CALLABLE = "+14155550161", "+14155550162", "+14155550163"


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def app_for(redis_url: str, opensearch_hosts: list[str] | None = None):
    class Config(TestConfig):
        REDIS_URL = redis_url
        OPENSEARCH_HOSTS = opensearch_hosts or TestConfig.OPENSEARCH_HOSTS
        OPENSEARCH_TIMEOUT = 2

    return create_app(Config)


def check_many(client, workspace, auth, phones):
    return client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": phones}, headers=auth
    )


def listed(response) -> list[bool]:
    assert response.status_code == 200, response.json
    return [row["dnc"] for row in response.json["data"]]


def add(client, workspace, auth, phone):
    response = client.post("/v1/dnc", json={"workspaceId": workspace, "phone": phone}, headers=auth)
    assert response.status_code == 201, response.json


def wait_for_source(client, workspace, auth, source, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = check_many(client, workspace, auth, [LISTED])
        if response.status_code == 200 and response.json["meta"]["source"] == source:
            return response
        time.sleep(0.1)
    raise AssertionError(f"checks never came from {source}")


def test_checks_fall_back_to_opensearch_then_503_when_both_are_down(
    app, own_redis, workspace, auth
):
    api = app_for(own_redis.url)
    client = api.test_client()
    add(client, workspace, auth, LISTED)
    add(client, workspace, auth, ALSO_LISTED)
    contact = client.post(
        "/v1/contacts",
        json={"workspaceId": workspace, "firstName": "Al", "phone": LISTED},
        headers=auth,
    ).json["data"]
    # The first check finds no cache, answers from OpenSearch and builds the cache.
    wait_for_source(client, workspace, auth, "cache")
    phones = [LISTED, ALSO_LISTED, CALLABLE, "nonsense"]
    assert listed(check_many(client, workspace, auth, phones)) == [True, True, False, None]

    own_redis.stop()
    during = check_many(client, workspace, auth, phones)
    assert listed(during) == [True, True, False, None]
    assert during.json["meta"]["source"] == "opensearch"
    assert during.json["data"][0]["reason"] is None and during.json["data"][0]["addedAt"]
    single = client.get(f"/v1/dnc/check?workspaceId={workspace}&phone={CALLABLE}", headers=auth)
    assert single.json["data"]["dnc"] is False and single.json["meta"]["source"] == "opensearch"
    # A write is refused while the cache cannot take its mark, and leaves nothing behind:
    # once acknowledged, an add must be seen by every reader, and readers trust the cache.
    refused = client.post(
        "/v1/dnc", json={"workspaceId": workspace, "phone": CALLABLE}, headers=auth
    )
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert listed(check_many(client, workspace, auth, [CALLABLE])) == [False]
    assert client.get(f"/v1/contacts/{contact['id']}", headers=auth).json["data"]["dnc"] is True
    both_down = app_for(own_redis.url, ["http://127.0.0.1:9"]).test_client()
    for response in (
        check_many(both_down, workspace, auth, phones),
        both_down.get(f"/v1/dnc/check?workspaceId={workspace}&phone={CALLABLE}", headers=auth),
    ):
        assert response.status_code == 503, response.json
        assert response.json["error"]["code"] == "service_unavailable"
        assert response.headers["Retry-After"]
    # Invalid numbers alone need neither server.
    invalid_only = check_many(both_down, workspace, auth, ["nonsense"])
    assert invalid_only.status_code == 200 and listed(invalid_only) == [None]


def test_cache_is_rebuilt_after_redis_data_is_wiped(app, own_redis, workspace, auth):
    api = app_for(own_redis.url)
    client = api.test_client()
    for phone in (LISTED, ALSO_LISTED):
        add(client, workspace, auth, phone)
    rebuild(api.extensions["wiring"].dnc, [workspace])
    assert check_many(client, workspace, auth, [LISTED]).json["meta"]["source"] == "cache"

    redis.Redis.from_url(own_redis.url).flushall()
    after_wipe = check_many(client, workspace, auth, [LISTED, ALSO_LISTED, CALLABLE])
    assert listed(after_wipe) == [True, True, False]
    assert after_wipe.json["meta"]["source"] == "opensearch"
    rebuilt = wait_for_source(client, workspace, auth, "cache")  # built lazily, in the background
    assert listed(rebuilt) == [True]

    redis.Redis.from_url(own_redis.url).flushall()
    stats = rebuild(
        api.extensions["wiring"].dnc, [workspace]
    )  # what `contacts rebuild-dnc-cache` runs
    assert stats[0]["numbers"] == 2
    answer = check_many(client, workspace, auth, [LISTED, ALSO_LISTED, CALLABLE])
    assert answer.json["meta"]["source"] == "cache" and listed(answer) == [True, True, False]


def test_a_cache_restored_from_an_older_snapshot_is_never_read_as_callable(
    app, tmp_path, workspace, auth
):
    """Redis comes back from a snapshot taken before an acknowledged add: the restored
    cache lacks the number, and no process may trust it (it carries the old run id)."""
    server = OwnRedis(tmp_path)
    server.start()
    try:
        api = app_for(server.url)
        client = api.test_client()
        add(client, workspace, auth, LISTED)
        rebuild(api.extensions["wiring"].dnc, [workspace])
        redis.Redis.from_url(server.url).save()  # the snapshot the restart comes back to
        add(client, workspace, auth, CALLABLE)  # acknowledged after the snapshot
        server.process.kill()
        server.process.wait(timeout=10)
        restarted = subprocess.Popen(
            ["redis-server", "--port", str(server.port), "--bind", "127.0.0.1"]
            + ["--dir", str(tmp_path), "--dbfilename", "dump.rdb", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        server.process = restarted
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(server.url).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        restored = redis.Redis.from_url(server.url)
        assert restored.exists(f"{api.config['REDIS_KEY_PREFIX']}dnc:{{{workspace}}}:meta")
        # Another process that never saw the restart, and this one: both ask the record.
        other = app_for(server.url).test_client()
        for reader in (other, client):
            answer = check_many(reader, workspace, auth, [CALLABLE, LISTED])
            assert listed(answer) == [True, True]
        # The lazy rebuild stamps the new run: the cache is trusted again, and right.
        rebuilt = wait_for_source(other, workspace, auth, "cache")
        assert listed(rebuilt) == [True]
        assert listed(check_many(other, workspace, auth, [CALLABLE])) == [True]
    finally:
        server.stop()


def test_workspace_isolation_in_the_cache(app, own_redis, workspace, auth):
    api = app_for(own_redis.url)
    client = api.test_client()
    other = "ws_iso" + workspace[3:]
    add(client, workspace, auth, LISTED)
    rebuild(api.extensions["wiring"].dnc, [workspace, other])
    with api.app_context():
        service = services.dnc()
        assert service.contains(workspace, [LISTED]) == ([True], "cache")
        assert service.contains(other, [LISTED]) == ([False], "cache")
        keys = redis.Redis.from_url(own_redis.url).keys("*")
    prefix = api.config["REDIS_KEY_PREFIX"]
    assert keys and all(k.decode().startswith(prefix) for k in keys)
    tags = (f"{{{workspace}}}", f"{{{other}}}")
    assert all(any(tag in key.decode() for tag in tags) for key in keys)
    assert check_many(client, other, bearer(other), [LISTED]).json["data"][0]["dnc"] is False
