"""Redis stops and comes back: DNC stays fail-closed, import jobs resume, limits hold."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from app import create_app
from app.config import TestConfig
from tests import servers
from tests.conftest import bearer
from tests.integration.test_import_jobs import count_contacts, csv_bytes, stop, upload
from tests.servers import OwnRedis

LISTED = "+14155550171"


@pytest.fixture
def durable_redis(tmp_path):
    server = OwnRedis(tmp_path, persist=True)
    server.start()
    yield server
    server.stop()


def app_on(redis_url: str, **settings):
    class RedisConfig(TestConfig):
        REDIS_URL = redis_url
        IMPORT_SYNC_MAX_BYTES = 1000

    for key, value in settings.items():
        setattr(RedisConfig, key, value)
    return create_app(RedisConfig)


def start_worker(app, redis_url: str, log_path) -> subprocess.Popen:
    return servers.start_worker(
        app.config, log_path, REDIS_URL=redis_url, IMPORT_LOCK_SECONDS="2", IMPORT_CHUNK_ROWS="100"
    )


def status_of(client, auth, import_id) -> dict | None:
    response = client.get(f"/v1/contacts/imports/{import_id}", headers=auth)
    return response.json["data"] if response.status_code == 200 else None


@pytest.mark.usefixtures("app")  # the session fixture creates this run's indices
def test_import_job_resumes_after_redis_returns(durable_redis, workspace, tmp_path):
    api = app_on(durable_redis.url)
    client, auth = api.test_client(), bearer(workspace)
    queued = upload(client, auth, workspace, csv_bytes(3000))
    assert queued.status_code == 202, queued.json
    import_id = queued.json["data"]["id"]
    workers = [start_worker(api, durable_redis.url, tmp_path / "worker-0.log")]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            record = status_of(client, auth, import_id)
            if record and record["progress"]["rowsDone"] >= 300:
                break
            time.sleep(0.05)

        durable_redis.stop(signal.SIGTERM)  # Redis goes away in the middle of the job
        down = client.get(f"/v1/contacts/imports/{import_id}", headers=auth)
        assert down.status_code == 503 and down.json["error"]["code"] == "service_unavailable"
        time.sleep(3)
        durable_redis.start()  # same port, same append-only file

        deadline = time.monotonic() + 120
        record = None
        while time.monotonic() < deadline:
            record = status_of(client, auth, import_id)
            if record and record["status"] == "completed":
                break
            if workers[-1].poll() is not None:  # the worker gave up while Redis was away
                workers.append(
                    start_worker(api, durable_redis.url, tmp_path / f"worker-{len(workers)}.log")
                )
            time.sleep(0.1)
        assert record and record["status"] == "completed", record
        assert len(workers) == 1 and workers[0].poll() is None  # it waited out the outage
        assert record["counts"]["created"] == 3000 and record["counts"]["invalid"] == 0
        assert count_contacts(api, workspace) == 3000  # resumed, nothing imported twice
    finally:
        for worker in workers:
            stop(worker, signal.SIGKILL)


@pytest.mark.usefixtures("app")
def test_dnc_and_rate_limits_while_redis_is_down(durable_redis, workspace):
    app = app_on(durable_redis.url, RATE_LIMIT_ENABLED=True, RATE_LIMITS="dnc:read=5/60")
    client, auth = app.test_client(), bearer(workspace)
    added = client.post(
        "/v1/dnc", json={"workspaceId": workspace, "phone": LISTED, "reason": "asked"}, headers=auth
    )
    assert added.status_code == 201, added.json

    durable_redis.stop()
    check = f"/v1/dnc/check?workspaceId={workspace}&phone={LISTED.replace('+', '%2B')}"
    answers = [client.get(check, headers=auth) for _ in range(7)]
    # Fail closed: the listed number is still listed (answered from OpenSearch) ...
    assert answers[0].status_code == 200 and answers[0].json["data"]["dnc"] is True
    # ... and the documented limiter behaviour holds: a per-process bucket, same limit.
    assert [a.status_code for a in answers[5:]] == [429, 429]
    assert answers[5].json["error"]["code"] == "rate_limited"
    assert int(answers[5].headers["Retry-After"]) > 0
    assert client.get("/readyz").json["checks"]["redis"]["ok"] is False
