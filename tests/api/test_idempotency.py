"""Idempotency-Key on create: a retried request returns the first response."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import jwt

from app.config import Config
from app.jobs import import_queue
from tests.conftest import ALL_SCOPES, bearer

ROOT = Path(__file__).resolve().parents[2]


def test_same_key_same_body_replays_the_first_response(client, app, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "firstName": "Once", "phone": "+14155550101"}
    first = client.post("/v1/contacts", json=body, headers={**auth, **key})
    second = client.post("/v1/contacts", json=body, headers={**auth, **key})
    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["ETag"] == first.headers["ETag"]
    app.extensions["opensearch"].indices.refresh(index=f"{app.config['INDEX_PREFIX']}*")
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json
    assert listed["meta"]["total"] == 1


def test_same_key_different_body_is_409(client, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "firstName": "A"}
    assert client.post("/v1/contacts", json=body, headers={**auth, **key}).status_code == 201
    other = client.post("/v1/contacts", json={**body, "firstName": "B"}, headers={**auth, **key})
    assert other.status_code == 409 and other.json["error"]["code"] == "conflict"


def test_without_a_key_each_request_writes(client, workspace, auth):
    body = {"workspaceId": workspace, "firstName": "Twice"}
    a = client.post("/v1/contacts", json=body, headers=auth).json["data"]["id"]
    b = client.post("/v1/contacts", json=body, headers=auth).json["data"]["id"]
    assert a != b


def test_a_failed_request_does_not_burn_the_key(client, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    bad = client.post(
        "/v1/contacts", json={"workspaceId": workspace, "phone": "12"}, headers={**auth, **key}
    )
    assert bad.status_code == 400
    # A rejected request wrote nothing, so the client may fix the body and reuse the key.
    fixed = client.post(
        "/v1/contacts",
        json={"workspaceId": workspace, "phone": "+14155550102"},
        headers={**auth, **key},
    )
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_keys_expire(client, app, workspace, auth):
    key = uuid.uuid4().hex
    body = {"workspaceId": workspace, "firstName": "Expiring"}
    client.post("/v1/contacts", json=body, headers={**auth, "Idempotency-Key": key})
    store = app.extensions["redis"]
    stored = [k for k in store.scan_iter(match=f"{app.config['REDIS_KEY_PREFIX']}idem:*{key}")]
    assert len(stored) == 1
    ttl = store.ttl(stored[0])
    assert 0 < ttl <= app.config["IDEMPOTENCY_TTL_SECONDS"]
    store.pexpire(stored[0], 1)
    time.sleep(0.05)
    assert not store.exists(stored[0])
    fresh = client.post(
        "/v1/contacts", json={**body, "firstName": "New"}, headers={**auth, "Idempotency-Key": key}
    )
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers


def csv_upload(workspace: str, text: str) -> dict:
    return {
        "data": {"workspaceId": workspace, "file": (io.BytesIO(text.encode()), "c.csv")},
        "content_type": "multipart/form-data",
    }


def test_import_with_the_same_key_runs_once(client, app, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    text = "First Name,Last Name,Phone\nIda,Em,+14155550111\nPo,Tent,+14155550112\n"
    first = client.post(
        "/v1/contacts/import", headers={**auth, **key}, **csv_upload(workspace, text)
    )
    assert first.status_code == 200, first.json
    again = client.post(
        "/v1/contacts/import", headers={**auth, **key}, **csv_upload(workspace, text)
    )
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["data"]["id"] == first.json["data"]["id"]
    changed = client.post(
        "/v1/contacts/import",
        headers={**auth, **key},
        **csv_upload(workspace, text + "Third,Row,+14155550113\n"),
    )
    assert changed.status_code == 409
    raw = client.post(
        f"/v1/contacts/import?workspaceId={workspace}",
        data=text,
        content_type="text/csv",
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert raw.status_code == 200 and raw.json["data"]["counts"]["skipped"] == 2


def test_dnc_add_with_the_same_key_replays(client, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "phone": "+14155550114", "reason": "asked"}
    first = client.post("/v1/dnc", json=body, headers={**auth, **key})
    again = client.post("/v1/dnc", json=body, headers={**auth, **key})
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/dnc", json={**body, "reason": "other"}, headers={**auth, **key})
    assert other.status_code == 409


# --- whose record: the principal and the workspace, checked before any replay -----------


def test_a_replay_needs_the_workspace_not_only_the_same_subject(client, workspace):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "firstName": "Secret", "phone": "+14155550121"}
    first = client.post("/v1/contacts", json=body, headers={**bearer(workspace), **key})
    assert first.status_code == 201
    outsider = bearer(f"{workspace}_other", subject="dev-user")  # same sub, not the workspace
    stolen = client.post("/v1/contacts", json=body, headers={**outsider, **key})
    assert stolen.status_code == 403 and stolen.json["error"]["code"] == "forbidden"
    assert "Secret" not in stolen.get_data(as_text=True)
    assert "Idempotent-Replayed" not in stolen.headers


def test_the_same_key_in_another_workspace_is_another_request(client, workspace):
    other = f"{workspace}_b"
    auth = bearer([workspace, other])
    key = {"Idempotency-Key": uuid.uuid4().hex}
    a = client.post("/v1/contacts", json={"workspaceId": workspace}, headers={**auth, **key})
    b = client.post("/v1/contacts", json={"workspaceId": other}, headers={**auth, **key})
    assert a.status_code == 400 and b.status_code == 400  # no identity: refused, key unused
    a = client.post(
        "/v1/contacts", json={"workspaceId": workspace, "firstName": "A"}, headers={**auth, **key}
    )
    b = client.post(
        "/v1/contacts", json={"workspaceId": other, "firstName": "A"}, headers={**auth, **key}
    )
    assert a.status_code == b.status_code == 201 and "Idempotent-Replayed" not in b.headers
    assert a.json["data"]["workspaceId"] == workspace and b.json["data"]["workspaceId"] == other


def subjectless(workspace: str) -> dict:
    claims = {"workspaces": [workspace], "scope": ALL_SCOPES, "exp": int(time.time()) + 600}
    claims["jti"] = uuid.uuid4().hex
    return {"Authorization": f"Bearer {jwt.encode(claims, Config.JWT_SECRET, 'HS256')}"}


def test_tokens_without_a_subject_never_share_a_key_space(client, workspace):
    key = {"Idempotency-Key": "retry-1"}
    body = {"workspaceId": workspace, "firstName": "Anon", "phone": "+14155550122"}
    mine, theirs = subjectless(workspace), subjectless(workspace)
    first = client.post("/v1/contacts", json=body, headers={**mine, **key})
    again = client.post("/v1/contacts", json=body, headers={**mine, **key})
    other = client.post("/v1/contacts", json=body, headers={**theirs, **key})
    assert first.status_code == again.status_code == other.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert "Idempotent-Replayed" not in other.headers
    assert other.json["data"]["id"] != first.json["data"]["id"]


# --- an abandoned in-progress marker --------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVER = """
import sys
from app import create_app
from app.config import TestConfig

class LeaseConfig(TestConfig):
    IDEMPOTENCY_LEASE_SECONDS = 1

create_app(LeaseConfig).run(port=int(sys.argv[1]), threaded=True)
"""


def markers(app, workspace) -> list[bytes]:
    pattern = f"{app.config['REDIS_KEY_PREFIX']}idem:{{{workspace}}}:*"
    return list(app.extensions["redis"].scan_iter(match=pattern))


def test_a_worker_killed_mid_request_frees_its_key_within_the_lease(app, workspace, auth):
    """kill -9 of a real server process while its keyed import is running: the marker is
    renewed while the request runs (longer than the lease), then lapses within a second."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT)
    key = uuid.uuid4().hex
    text = b"First Name,Phone\nKilled,+14155550123\n"
    try:
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        head = (
            f"POST /v1/contacts/import?workspaceId={workspace} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: {len(text)}\r\n"
            f"Authorization: {auth['Authorization']}\r\nIdempotency-Key: {key}\r\n\r\n"
        )
        sock.sendall(head.encode() + text[:10])  # the body stalls: the view is reading it
        deadline = time.time() + 10
        while not markers(app, workspace) and time.time() < deadline:
            time.sleep(0.05)
        assert markers(app, workspace), "the server never claimed the key"
        time.sleep(2.5)  # over twice the lease: the heartbeat keeps it
        assert markers(app, workspace)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        sock.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    retry = dict(data=text, content_type="text/csv", headers={**auth, "Idempotency-Key": key})
    url = f"/v1/contacts/import?workspaceId={workspace}"
    client = app.test_client()
    busy = client.post(url, **retry)
    assert busy.status_code == 409 and "in progress" in busy.json["error"]["message"]
    time.sleep(1.2)
    done = client.post(url, **retry)
    assert done.status_code == 200, done.json
    assert done.json["data"]["counts"]["created"] == 1


# --- a raw CSV body is hashed as it streams ------------------------------------------


def drop_queued_imports(app, import_ids: set[str]) -> None:
    queue = import_queue(app.extensions["redis"], app.config)
    for job in queue.jobs:
        if set(job.args) & import_ids:
            job.delete()


def test_a_keyed_csv_body_is_hashed_as_it_streams_not_held_in_memory(
    client, workspace, auth, tmp_path
):
    rows = "".join(f"Name{n},+1415555{n % 10000:04d}\n" for n in range(200_000))
    path = tmp_path / "big.csv"
    path.write_text("First Name,Phone\n" + rows)
    size = path.stat().st_size
    assert size > 4 * 1024 * 1024
    key = {"Idempotency-Key": uuid.uuid4().hex}
    url = f"/v1/contacts/import?workspaceId={workspace}"

    def post(stream_path, keyed=True):
        headers = {**auth, **key} if keyed else auth
        with open(stream_path, "rb") as stream:
            return client.post(
                url,
                input_stream=stream,
                content_length=stream_path.stat().st_size,
                content_type="text/csv",
                headers=headers,
            )

    def peak_of(**kwargs) -> tuple:
        tracemalloc.start()
        try:
            response = post(path, **kwargs)
            return response, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    warm = tmp_path / "warm.csv"  # first-use imports and caches are not the body
    warm.write_text("First Name,Phone\nWarm,+14155550198\n")
    assert post(warm).status_code == 200
    key = {"Idempotency-Key": uuid.uuid4().hex}
    plain, unkeyed = peak_of(keyed=False)  # what the import itself costs, whatever it is
    first, keyed = peak_of()
    # Two 200,000-row jobs are queued: drop them so that a worker started later in the
    # run does not spend a minute and a half on them before its own test's job.
    drop_queued_imports(client.application, {plain.json["data"]["id"], first.json["data"]["id"]})
    assert first.status_code == 202, first.json
    assert keyed < unkeyed + size / 4, (keyed, unkeyed, size)
    again = post(path)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["data"]["id"] == first.json["data"]["id"]
    changed = tmp_path / "changed.csv"
    changed.write_bytes(path.read_bytes() + b"Extra,+14155550199\n")
    assert post(changed).status_code == 409
