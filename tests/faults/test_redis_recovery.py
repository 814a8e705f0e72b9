"""A short Redis outage ends: writes are taken again as soon as Redis answers.

Refusing writes while Redis is unreachable is safe (nothing is written, the caller gets a
503), but a "do not call me" request must be taken again the moment the servers are
back, not when some state left behind by the outage (a lock whose release or whose
acquisition's reply was lost) lapses on its own. Each test runs its own redis-server
behind a FaultProxy (tests/chaos/proxy.py) whose `cut` closes every connection and
refuses new ones, as a network partition does, or kills it with -9 and starts it again;
the shared OpenSearch sits behind a second proxy that can slow its replies, so a write
is still inside its critical section when the cut comes. DNC adds and checks, contact
writes (the change feed's sequence is in Redis) and the rate limiter are covered.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote, urlparse

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app import create_app
from app.config import TestConfig
from app.locks import RenewableLock
from tests.chaos.proxy import FaultProxy
from tests.conftest import bearer
from tests.servers import OwnRedis

NUMBERS = ["+14155550181", "+14155550182", "+14155550183", "+14155550184"]
# Far beyond what a recovered service needs (well under a second here), and shorter
# than the leftover lock's lifetime that the defect made writers wait out.
RECOVERY_BOUND_SECONDS = 10.0


class CutStack:
    """A redis-server of the test's own behind one proxy, the shared OpenSearch behind
    another, and apps built on the two proxies."""

    def __init__(self, tmp_path) -> None:
        self.server = OwnRedis(tmp_path, persist=True)
        self.server.start()
        self.redis = FaultProxy("127.0.0.1", self.server.port).start()
        engine = urlparse(TestConfig.OPENSEARCH_HOSTS[0])
        self.engine = FaultProxy(engine.hostname, engine.port or 9200).start()
        self.direct = redis.Redis.from_url(self.server.url, socket_timeout=5)

    def app(self, **settings):
        class CutConfig(TestConfig):
            REDIS_URL = f"redis://127.0.0.1:{self.redis.port}/0"
            OPENSEARCH_HOSTS = [f"http://127.0.0.1:{self.engine.port}"]

        for key, value in settings.items():
            setattr(CutConfig, key, value)
        return create_app(CutConfig)

    def begin(self, outage: str) -> None:
        """`cut`: the network drops every connection; `kill9_restart`: the server dies
        (every pooled connection with it) and comes back under a new run_id."""
        if outage == "cut":
            self.redis.cut()
        else:
            self.server.stop()

    def end(self, outage: str) -> None:
        if outage == "cut":
            self.redis.heal()
        else:
            self.server.start()  # same port, same append-only file

    def close(self) -> None:
        self.redis.stop()
        self.engine.stop()
        self.server.stop()


@pytest.fixture
def stack(tmp_path):
    cut_stack = CutStack(tmp_path)
    yield cut_stack
    cut_stack.close()


def add(client, auth, workspace: str, phone: str):
    body = {"workspaceId": workspace, "phone": phone, "reason": "asked"}
    return client.post("/v1/dnc", json=body, headers=auth)


def check(client, auth, workspace: str, phone: str):
    url = f"/v1/dnc/check?workspaceId={workspace}&phone={quote(phone, safe='')}"
    return client.get(url, headers=auth)


def wait_for(condition, seconds: float, pause: float = 0.01) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(pause)
    return False


def first_success(attempt, seconds: float) -> tuple[object, float]:
    """Retry `attempt` (a request; success is a 2xx) every 0.1 s for at most `seconds`;
    returns the last response and the seconds taken until it."""
    started = time.monotonic()
    response = attempt()
    while response.status_code >= 300 and time.monotonic() - started < seconds:
        time.sleep(0.1)
        response = attempt()
    return response, time.monotonic() - started


@pytest.mark.usefixtures("app")  # the session fixture creates this run's indices
def test_dnc_adds_are_taken_once_redis_is_back_after_a_cut_caught_a_write_holding_its_lock(
    stack, workspace
):
    # A lock that would outlive the recovery bound on its own, so only its release can
    # free it in time.
    api = stack.app(DNC_FLAGS_LOCK_SECONDS=3 * RECOVERY_BOUND_SECONDS)
    client, auth = api.test_client(), bearer(workspace)
    assert add(client, auth, workspace, NUMBERS[0]).status_code == 201
    flags_lock = f"{api.config['REDIS_KEY_PREFIX']}dnc:{{{workspace}}}:lock:flags"

    # A write reaches the contacts' flags (under the workspace's flags lock) on a slow
    # engine; Redis is cut while it holds the lock, so its release cannot reach Redis.
    stack.engine.set_mode("delay", 1.0)
    caught: list = []
    writer = threading.Thread(
        target=lambda: caught.append(add(api.test_client(), auth, workspace, NUMBERS[1]))
    )
    writer.start()
    assert wait_for(lambda: stack.direct.exists(flags_lock), 60), "the write never took the lock"
    stack.redis.cut()
    stack.engine.heal()
    writer.join(timeout=60)
    assert caught and caught[0].status_code == 503, caught  # not confirmed: Redis was away
    left_behind = stack.direct.pttl(flags_lock) / 1000
    assert left_behind > 2 * RECOVERY_BOUND_SECONDS  # the lock outlived its holder's release

    stack.redis.heal()
    taken, seconds = first_success(lambda: add(client, auth, workspace, NUMBERS[2]), 60)
    assert taken.status_code in (200, 201), taken.json  # 200: an earlier try was stored
    # Taken as soon as Redis answered, not when the lock left behind lapsed on its own.
    assert seconds < RECOVERY_BOUND_SECONDS, f"the add waited {seconds:.1f} s"
    assert not stack.direct.exists(flags_lock)
    listed = check(client, auth, workspace, NUMBERS[2])
    assert listed.status_code == 200 and listed.json["data"]["dnc"] is True
    # The write the cut caught was never confirmed; its retry is taken and listed too.
    retried = add(client, auth, workspace, NUMBERS[1])
    assert retried.status_code in (200, 201), retried.json
    assert check(client, auth, workspace, NUMBERS[1]).json["data"]["dnc"] is True


def test_a_lock_released_while_redis_is_cut_is_freed_once_redis_is_back(stack):
    client = stack.app().extensions["redis"]
    lock = RenewableLock(client, "recovery:lock", ttl=30)
    assert lock.acquire()
    stack.redis.cut()
    lock.release()  # cannot reach Redis
    assert stack.direct.exists("recovery:lock")
    stack.redis.heal()
    assert wait_for(lambda: not stack.direct.exists("recovery:lock"), RECOVERY_BOUND_SECONDS)


def test_a_late_release_never_frees_the_lock_of_a_later_holder(stack):
    client = stack.app().extensions["redis"]
    lock = RenewableLock(client, "recovery:lock", ttl=30)
    assert lock.acquire()
    stack.redis.cut()
    lock.release()  # cannot reach Redis; retried in the background
    # Meanwhile the lock lapses and another process takes it.
    stack.direct.pexpire("recovery:lock", 1)
    later = stack.direct.lock("recovery:lock", timeout=30)
    assert wait_for(lambda: later.acquire(blocking=False), 5)
    stack.redis.heal()
    time.sleep(1.0)  # ten retry periods
    assert stack.direct.get("recovery:lock") == later.local.token
    assert client.ping()


@pytest.mark.parametrize("retries", [0, 3])
def test_a_lock_whose_reply_was_lost_is_ours_or_freed_once_redis_is_back(stack, retries):
    """The SET lands and its reply is lost. With no retry left the caller sees the error
    and the key is freed once Redis answers; redis-py's own retry finds the key taken,
    by our token, and the lock is ours."""
    client = redis.Redis(
        port=stack.redis.port, socket_timeout=30, retry=Retry(NoBackoff(), retries)
    )
    lock = RenewableLock(client, "recovery:lock", ttl=30)
    outcome: list = []

    def take() -> None:
        try:
            outcome.append(lock.acquire())
        except redis.RedisError as exc:
            outcome.append(exc)

    client.ping()  # a pooled connection past its handshake: the SET is the next request
    stack.redis.set_mode("drop_replies")
    taker = threading.Thread(target=take)
    taker.start()
    assert wait_for(lambda: stack.direct.exists("recovery:lock"), 30)  # the SET landed
    stack.redis.heal()  # the connection that lost the reply is closed
    taker.join(timeout=30)
    if retries:
        assert outcome == [True]
        assert stack.direct.get("recovery:lock") == lock.token.encode()
        lock.release()
    else:
        assert isinstance(outcome[0], redis.ConnectionError), outcome
    assert wait_for(lambda: not stack.direct.exists("recovery:lock"), RECOVERY_BOUND_SECONDS)


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("outage", ["cut", "kill9_restart"])
def test_dnc_adds_and_checks_work_again_right_after_an_outage(stack, workspace, outage):
    api = stack.app()
    client, auth = api.test_client(), bearer(workspace)
    assert add(client, auth, workspace, NUMBERS[0]).status_code == 201

    stack.begin(outage)
    refused = add(client, auth, workspace, NUMBERS[3])
    assert refused.status_code == 503 and refused.json["error"]["code"] == "service_unavailable"
    # Fail closed meanwhile: the listed number is still listed (from the record).
    assert check(client, auth, workspace, NUMBERS[0]).json["data"]["dnc"] is True
    time.sleep(1.0)
    stack.end(outage)

    taken, seconds = first_success(lambda: add(client, auth, workspace, NUMBERS[3]), 60)
    assert taken.status_code == 201, taken.json
    assert seconds < RECOVERY_BOUND_SECONDS, f"the add waited {seconds:.1f} s"
    for phone in (NUMBERS[0], NUMBERS[3]):
        answer = check(client, auth, workspace, phone)
        assert answer.status_code == 200 and answer.json["data"]["dnc"] is True


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("outage", ["cut", "kill9_restart"])
def test_contact_writes_are_taken_again_right_after_an_outage(stack, workspace, outage):
    api = stack.app()
    client, auth = api.test_client(), bearer(workspace)

    def create():
        body = {"workspaceId": workspace, "firstName": "Ada", "phone": NUMBERS[0]}
        return client.post("/v1/contacts", json=body, headers=auth)

    assert create().status_code == 201
    stack.begin(outage)
    # The change feed's sequence lives in Redis: the write is refused, nothing written.
    refused = create()
    assert refused.status_code == 503 and refused.json["error"]["code"] == "service_unavailable"
    time.sleep(1.0)
    stack.end(outage)

    taken, seconds = first_success(create, 60)
    assert taken.status_code == 201, taken.json
    assert seconds < RECOVERY_BOUND_SECONDS, f"the create waited {seconds:.1f} s"
    api.extensions["opensearch"].indices.refresh(index=f"{api.config['INDEX_PREFIX']}*")
    listed = client.get(f"/v1/contacts?workspaceId={workspace}&limit=10", headers=auth)
    assert listed.json["meta"]["total"] == 2  # the refused write left nothing behind


@pytest.mark.usefixtures("app")
def test_rate_limits_return_to_redis_after_a_cut(stack, workspace):
    api = stack.app(RATE_LIMIT_ENABLED=True, RATE_LIMITS="dnc:read=1000/60")
    client, auth = api.test_client(), bearer(workspace)
    assert check(client, auth, workspace, NUMBERS[0]).status_code == 200
    pattern = f"{api.config['REDIS_KEY_PREFIX']}ratelimit:*:dnc:read"
    [bucket] = list(stack.direct.scan_iter(match=pattern))

    stack.redis.cut()
    # Redis away: the limiter serves from its per-process buckets, the check still answers.
    assert check(client, auth, workspace, NUMBERS[0]).status_code == 200
    time.sleep(1.0)
    stack.redis.heal()
    before = stack.direct.hget(bucket, "ts")

    # Back on the shared bucket once the limiter retries Redis (after REDIS_RETRY_SECONDS).
    def back_on_redis() -> bool:
        assert check(client, auth, workspace, NUMBERS[0]).status_code == 200
        return stack.direct.hget(bucket, "ts") != before

    assert wait_for(back_on_redis, 60, pause=0.2), "the limiter never went back to Redis"
