"""DNC rules when Redis fails: a rule is never half-written, never answered callable.

Each test runs its own throwaway redis-server (the shared one is never touched) and
points a separate app at it.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import services
from tests.integration.test_dnc_outages import app_for
from tests.servers import OwnRedis

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


PREFIX, UNDER = "+1201555", "+12015550123"


def add_rule(client, workspace, auth, **extra):
    return client.post(
        "/v1/dnc",
        json={"workspaceId": workspace, "rule": "prefix", "prefix": PREFIX, **extra},
        headers=auth,
    )


def checked(client, workspace, auth, phone=UNDER):
    response = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": [phone]}, headers=auth
    )
    assert response.status_code == 200, response.json
    return response.json


def test_a_rule_cannot_be_added_while_redis_is_down_and_nothing_is_written(
    app, own_redis, workspace, auth
):
    api = app_for(own_redis.url)
    client = api.test_client()
    own_redis.stop()
    refused = add_rule(client, workspace, auth)
    assert refused.status_code == 503 and refused.json["error"]["code"] == "service_unavailable"
    listed = client.get("/v1/dnc", query_string={"workspaceId": workspace}, headers=auth).json
    assert listed["meta"]["total"] == 0


def test_with_redis_gone_the_record_answers_rules_and_their_expiry(app, own_redis, workspace, auth):
    api = app_for(own_redis.url)
    client = api.test_client()
    expires = datetime.now(UTC) + timedelta(seconds=2)
    stamp = expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert add_rule(client, workspace, auth, expiresAt=stamp).status_code == 201
    own_redis.stop()
    answer = checked(client, workspace, auth)
    assert answer["data"][0]["dnc"] is True and answer["meta"]["source"] == "opensearch"
    assert answer["data"][0]["match"]["prefix"] == PREFIX and answer["meta"]["version"] is None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = checked(client, workspace, auth)
        if answer["data"][0]["dnc"] is False:
            checked_at = datetime.fromisoformat(answer["meta"]["checkedAt"].replace("Z", "+00:00"))
            assert checked_at >= expires
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the expired rule kept matching from the record")


def test_a_rule_write_that_died_after_its_mark_is_settled_by_the_reconciler(
    app, own_redis, workspace, auth
):
    api = app_for(own_redis.url)
    client = api.test_client()
    assert add_rule(client, workspace, auth, scope="spring").status_code == 201
    with api.app_context():
        dnc = services.dnc()
        # A writer that marked a removal of the rule, then died before anything else.
        dnc.cache.mark_rule(workspace, PREFIX[1:], "p|spring|all")
        assert dnc.cache.rule_marks(workspace)
        report = services.dnc_reconciler().reconcile(workspace, grace=0, full=True)
        assert report["settledMarks"] >= 1 and dnc.cache.rule_marks(workspace) == {}
    answer = client.post(
        "/v1/dnc/check",
        json={"workspaceId": workspace, "phones": [UNDER], "campaign": "spring"},
        headers=auth,
    ).json
    assert answer["data"][0]["dnc"] is True and answer["meta"]["source"] == "cache"


def test_a_redis_wipe_loses_no_rule(app, own_redis, workspace, auth):
    api = app_for(own_redis.url)
    client = api.test_client()
    assert add_rule(client, workspace, auth, channel="calls").status_code == 201
    own_redis.wipe()
    assert checked(client, workspace, auth)["data"][0]["dnc"] is True
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the first check scheduled the rebuild
        answer = checked(client, workspace, auth)
        assert answer["data"][0]["dnc"] is True
        if answer["meta"]["source"] == "cache":
            break
        time.sleep(0.2)
    assert answer["meta"]["source"] == "cache"
    assert answer["meta"]["version"] >= 1  # re-seeded from the history
