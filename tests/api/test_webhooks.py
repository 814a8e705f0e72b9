"""Webhooks through HTTP on the real servers: subscriptions, SSRF refusals, tenancy, and
deliveries by the real worker to a receiver on 127.0.0.1 that fails and recovers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.changes import delivery
from tests.conftest import bearer
from tests.servers import start_worker, stop_group

HOOKS = "/v1/webhooks"


class Receiver:
    """A threaded HTTP server on 127.0.0.1 answering 500 while `failing`, else 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.failing = False
        self.requests: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers), body))
                    fail = receiver.failing or len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks?x=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted_ids(self) -> list[str]:
        """Event ids in arrival order, first arrival only (what a deduping receiver keeps)."""
        seen: dict[str, None] = {}
        with self.lock:
            for _, body in self.requests:
                seen.setdefault(json.loads(body)["id"], None)
        return list(seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def worker(app, tmp_path_factory):
    process = start_worker(
        app.config,
        tmp_path_factory.mktemp("webhooks") / "worker.log",
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_POLL_SECONDS="0.1",
        WEBHOOK_BACKOFF_SECONDS="0.1",
        WEBHOOK_BACKOFF_MAX_SECONDS="0.4",
        WEBHOOK_MAX_FAILURES="4",
    )
    yield process
    stop_group(process)


def subscribe(client, workspace, auth, url) -> dict:
    response = client.post(HOOKS, headers=auth, json={"workspaceId": workspace, "url": url})
    assert response.status_code == 201, response.json
    return response.json["data"]


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def feed_ids(client, workspace, auth) -> list[str]:
    page = client.get(
        "/v1/contacts/changes", headers=auth, query_string={"workspaceId": workspace, "limit": 1000}
    )
    return [event["id"] for event in page.json["data"]]


def test_every_event_arrives_once_in_order_after_the_receiver_recovers(
    client, workspace, auth, receiver, worker
):
    target = receiver(fail_first=3)
    hook = subscribe(client, workspace, auth, target.url)
    ids = []
    for n in range(6):
        body = {"workspaceId": workspace, "firstName": f"Hook{n}", "phone": f"+1415555{3000 + n}"}
        ids.append(client.post("/v1/contacts", headers=auth, json=body).json["data"]["id"])
    client.patch(f"/v1/contacts/{ids[0]}", headers=auth, json={"lastName": "Changed"})
    client.delete(f"/v1/contacts/{ids[1]}", headers=auth)
    client.post("/v1/dnc", headers=auth, json={"workspaceId": workspace, "phone": "+14155553009"})
    expected = feed_ids(client, workspace, auth)
    assert len(expected) == 9

    wait_for(lambda: len(target.accepted_ids()) == len(expected))
    wait_for(
        lambda: client.get(f"{HOOKS}/{hook['id']}", headers=auth).json["data"]["delivered"] == 9
    )

    assert target.accepted_ids() == expected  # feed order, every event, deduped by id
    statuses = [
        s
        for s in (
            hook_attempt["status"]
            for hook_attempt in client.get(f"{HOOKS}/{hook['id']}", headers=auth).json["data"][
                "attempts"
            ]
        )
    ]
    assert 200 in statuses
    for headers, body in target.requests:
        signature = headers["X-Contacts-Signature"]
        assert delivery.verify(hook["secret"], signature, body)
        assert headers["X-Contacts-Event-Id"] == json.loads(body)["id"]
    assert len(target.requests) >= len(expected) + 3  # the three failures were retried
    shown = client.get(f"{HOOKS}/{hook['id']}", headers=auth).json["data"]
    assert shown["failures"] == 0 and shown["paused"] is False
    assert "secret" not in shown


def test_repeated_failures_pause_the_subscription_until_it_is_resumed(
    client, workspace, auth, receiver, worker
):
    target = receiver()
    target.failing = True
    hook = subscribe(client, workspace, auth, target.url)
    created = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": "P"}
    )
    assert created.status_code == 201

    def paused() -> bool:
        return client.get(f"{HOOKS}/{hook['id']}", headers=auth).json["data"]["paused"]

    wait_for(paused)
    shown = client.get(f"{HOOKS}/{hook['id']}", headers=auth).json["data"]
    assert shown["failures"] == 4
    assert [a["status"] for a in shown["attempts"]] == [500] * 4
    assert shown["nextAttemptAt"]
    attempts = len(target.requests)
    time.sleep(1.0)
    assert len(target.requests) == attempts  # paused: no more deliveries

    target.failing = False
    resumed = client.patch(f"{HOOKS}/{hook['id']}", headers=auth, json={"paused": False})
    assert resumed.status_code == 200 and resumed.json["data"]["paused"] is False
    wait_for(lambda: target.accepted_ids() == feed_ids(client, workspace, auth))


def test_a_subscription_shows_its_secret_once_and_can_be_listed_and_deleted(
    client, workspace, auth
):
    hook = subscribe(client, workspace, auth, "http://127.0.0.1:9/hook")
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40

    listed = client.get(HOOKS, headers=auth, query_string={"workspaceId": workspace})
    one = client.get(f"{HOOKS}/{hook['id']}", headers=auth)

    assert [h["id"] for h in listed.json["data"]] == [hook["id"]]
    assert "secret" not in listed.json["data"][0] and "secret" not in one.json["data"]
    assert client.delete(f"{HOOKS}/{hook['id']}", headers=auth).status_code == 204
    assert client.get(f"{HOOKS}/{hook['id']}", headers=auth).status_code == 404
    assert client.delete(f"{HOOKS}/{hook['id']}", headers=auth).status_code == 404


def test_another_workspaces_token_cannot_see_change_or_create_its_webhooks(client, workspace, auth):
    hook = subscribe(client, workspace, auth, "http://127.0.0.1:9/hook")
    intruder = bearer("ws_intruder_hooks")

    assert client.get(f"{HOOKS}/{hook['id']}", headers=intruder).status_code == 404
    assert client.delete(f"{HOOKS}/{hook['id']}", headers=intruder).status_code == 404
    resume = {"headers": intruder, "json": {"paused": False}}
    assert client.patch(f"{HOOKS}/{hook['id']}", **resume).status_code == 404
    assert (
        client.get(HOOKS, headers=intruder, query_string={"workspaceId": workspace}).status_code
        == 403
    )
    foreign = client.post(
        HOOKS, headers=intruder, json={"workspaceId": workspace, "url": "http://127.0.0.1:9/"}
    )
    assert foreign.status_code == 403
    read_only = bearer(workspace, scope="contacts:read")
    assert client.delete(f"{HOOKS}/{hook['id']}", headers=read_only).status_code == 403
    assert client.get(f"{HOOKS}/{hook['id']}", headers=auth).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/hook",
        "http://100.100.100.200/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://user:pass@127.0.0.1/hook",
        "http://127.0.0.1:99999/hook",
        "http:///nohost",
        "http://exämple.com/hook",
        "http://127.0.0.1/" + "a" * 3000,
        "http://127.0.0.1/with space",
        "http://no-such-host.invalid/hook",
    ],
)
def test_unsafe_or_malformed_urls_are_400(client, workspace, auth, url):
    response = client.post(HOOKS, headers=auth, json={"workspaceId": workspace, "url": url})
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"][0]["field"] == "url"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1/"},
        {"workspaceId": "ws_x", "url": ["http://127.0.0.1/"]},
        {"workspaceId": "ws_x", "url": {"nested": {"deep": 1}}},
        {"workspaceId": "ws_x", "url": "http://127.0.0.1/", "secret": "mine"},
    ],
)
def test_malformed_bodies_are_400(client, auth, body):
    response = client.post(HOOKS, headers=auth, json=body)
    assert response.status_code == 400


def test_a_workspace_holds_a_bounded_number_of_webhooks(app, client, workspace, auth):
    limit = app.extensions["wiring"].webhooks.per_workspace
    for _ in range(limit):
        subscribe(client, workspace, auth, "http://127.0.0.1:9/hook")
    response = client.post(
        HOOKS, headers=auth, json={"workspaceId": workspace, "url": "http://127.0.0.1:9/hook"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "::1", "fc00::5"]
)
def test_production_config_refuses_private_and_loopback_targets(address):
    with pytest.raises(delivery.UnsafeUrl):
        delivery.check_address(address, allow_private=False)
    delivery.check_address(address, allow_private=True)  # the test config allows them


def test_a_receiver_rejects_tampered_and_replayed_deliveries():
    body = b'{"id":"ws_a:1"}'
    fresh = delivery.sign("whsec_k", int(time.time()), body)
    old = delivery.sign("whsec_k", int(time.time()) - 301, body)

    assert delivery.verify("whsec_k", fresh, body)
    assert not delivery.verify("whsec_k", fresh, body + b" ")
    assert not delivery.verify("whsec_other", fresh, body)
    assert not delivery.verify("whsec_k", old, body)
    assert not delivery.verify("whsec_k", "t=abc,v1=00", body)


def test_concurrent_delivery_passes_send_each_event_once_in_order(
    app, client, workspace, auth, receiver
):
    """Several workers deliver at once (the per-subscription lock and the compare-and-set
    save): no event is sent twice or out of order, also while writes go on."""
    target = receiver()
    subscribe(client, workspace, auth, target.url)
    webhooks = app.extensions["wiring"].webhooks
    stop = threading.Event()
    errors: list[Exception] = []

    def deliver() -> None:
        while not stop.is_set():
            try:
                webhooks.deliver_due()
            except Exception as exc:  # noqa: BLE001 (asserted on)
                errors.append(exc)

    passes = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in passes:
        thread.start()
    try:
        for n in range(20):
            body = {"workspaceId": workspace, "firstName": f"Concurrent{n}"}
            assert client.post("/v1/contacts", headers=auth, json=body).status_code == 201
        expected = feed_ids(client, workspace, auth)
        wait_for(lambda: len(target.requests) >= len(expected))
        time.sleep(0.5)  # room for a duplicate to show up
    finally:
        stop.set()
        for thread in passes:
            thread.join(timeout=30)

    assert not errors, errors[:1]
    sent = [json.loads(body)["id"] for _, body in target.requests]
    assert sent == expected  # each once, in feed order
