"""Background imports on a real rq worker process, including a worker killed mid-job."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from app.search.indices import IndexNames
from app.services import import_runs
from devtools.fakedata import contacts as fake_contacts
from tests.conftest import bearer
from tests.servers import start_worker

ROOT = Path(__file__).resolve().parent.parent.parent


def csv_bytes(count: int, invalid_every: int = 0) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["First Name", "Last Name", "Phone", "Email", "Company", "Tags"])
    for i, contact in enumerate(fake_contacts(count, seed=7)):
        email = "broken-email" if invalid_every and i % invalid_every == 5 else contact["email"]
        # Unique phones and emails, so every valid row is one new contact.
        writer.writerow(
            [
                contact["firstName"],
                contact["lastName"],
                f"+1415{2000000 + i:07d}",
                email if email == "broken-email" else f"u{i}.{email}",
                contact["company"],
                ";".join(contact["tags"]),
            ]
        )
    return out.getvalue().encode()


@pytest.fixture
def worker_starter(app, tmp_path):
    """Start `contacts worker` in its own process group; every one is stopped at the end."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = tmp_path / f"worker-{len(started)}.log"
        process = start_worker(app.config, log, IMPORT_LOCK_SECONDS="2", IMPORT_CHUNK_ROWS="100")
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process, signal.SIGTERM)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def stop(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        if sig == signal.SIGKILL:
            # rq's work-horse runs in a session of its own: kill it first, by its pid.
            for child in children(process.pid):
                os.kill(child, signal.SIGKILL)
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def upload(client, auth, workspace, data: bytes, **form):
    return client.post(
        "/v1/contacts/import",
        data={"workspaceId": workspace, "file": (io.BytesIO(data), "big.csv"), **form},
        headers=auth,
        content_type="multipart/form-data",
    )


def wait_for(client, auth, import_id, predicate, timeout=90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = client.get(f"/v1/contacts/imports/{import_id}", headers=auth).json["data"]
        if predicate(record):
            return record
        time.sleep(0.02)
    raise AssertionError(f"timed out; last state {record}")


def count_contacts(app, workspace) -> int:
    client = app.extensions["opensearch"]
    names = IndexNames(app.config["INDEX_PREFIX"], "contacts")
    client.indices.refresh(index=names.read)
    query = {"query": {"term": {"workspaceId": workspace}}}
    return client.count(index=names.read, body=query, routing=workspace)["count"]


def test_large_file_is_queued_then_run_by_the_worker(
    client, app, workspace, auth, worker_starter, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_SYNC_MAX_BYTES", 1000)
    data = csv_bytes(600, invalid_every=100)
    response = upload(client, auth, workspace, data)
    assert response.status_code == 202, response.json
    queued = response.json["data"]
    assert queued["status"] == "queued" and queued["progress"]["rowsDone"] == 0
    assert response.headers["Location"].endswith(f"/v1/contacts/imports/{queued['id']}")
    # No worker yet: the job waits in Redis, whatever happens to the API process.
    time.sleep(0.3)
    status = client.get(response.headers["Location"], headers=auth).json["data"]
    assert status["status"] == "queued"

    worker_starter()
    done = wait_for(client, auth, queued["id"], lambda r: r["status"] == "completed")
    assert done["counts"] == {
        "total": 600,
        "created": 594,
        "updated": 0,
        "skipped": 0,
        "invalid": 6,
    }
    assert done["progress"] == {"rowsDone": 600, "rowsTotal": 600, "percent": 100.0}
    assert done["errors"][0] == {
        "line": 7,
        "field": "email",
        "message": "Not a valid email address.",
        "value": "broken-email",
    }
    assert count_contacts(app, workspace) == 594
    report = client.get(done["errorsUrl"], headers=auth)
    rows = list(csv.reader(io.StringIO(report.data.decode())))
    assert [row[0] for row in rows[1:]] == [str(7 + 100 * i) for i in range(6)]


def test_a_worker_killed_mid_job_is_replaced_and_nothing_is_imported_twice(
    client, app, workspace, auth, worker_starter, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_SYNC_MAX_BYTES", 1000)
    data = csv_bytes(5000, invalid_every=500)
    response = upload(client, auth, workspace, data)
    assert response.status_code == 202, response.json
    import_id = response.json["data"]["id"]

    first = worker_starter()
    running = wait_for(client, auth, import_id, lambda r: r["progress"]["rowsDone"] >= 300)
    stop(first, signal.SIGKILL)  # no clean-up of any kind: the lock simply stops renewing
    killed = client.get(f"/v1/contacts/imports/{import_id}", headers=auth).json["data"]
    assert killed["status"] == "running" and killed["progress"]["rowsDone"] < 5000, killed
    assert running["attempts"] == 1

    worker_starter()
    done = wait_for(client, auth, import_id, lambda r: r["status"] == "completed")
    assert done["attempts"] == 2
    assert done["counts"] == {
        "total": 5000,
        "created": 4990,
        "updated": 0,
        "skipped": 0,
        "invalid": 10,
    }
    assert count_contacts(app, workspace) == 4990
    report = client.get(done["errorsUrl"], headers=auth)
    lines = [row[0] for row in csv.reader(io.StringIO(report.data.decode()))][1:]
    assert lines == [str(7 + 500 * i) for i in range(10)]  # each failed row exactly once


def test_a_rejected_bulk_item_is_reported_on_its_row(client, app, workspace, auth, monkeypatch):
    """The engine cannot be made to reject one document on demand: fake only that answer."""
    real = import_runs.bulk_items

    def reject_second(client_, actions, **kwargs):
        victim = actions[1]["_id"]
        stored = iter(real(client_, [a for a in actions if a["_id"] != victim], **kwargs))
        error = {"type": "mapper_parsing_exception", "reason": "failed to parse [phone]"}
        refused = {"index": {"_id": victim, "status": 400, "error": error}}
        return [refused if a["_id"] == victim else next(stored) for a in actions]

    monkeypatch.setattr(import_runs, "bulk_items", reject_second)
    data = (
        b"First Name,Email\nAda,ada@example.com\nAlan,alan@example.com\nGrace,grace@example.com\n"
    )
    result = upload(client, auth, workspace, data).json["data"]
    assert result["counts"]["created"] == 2 and result["counts"]["invalid"] == 1
    assert result["errors"][0]["line"] == 3
    assert "mapper_parsing_exception" in result["errors"][0]["message"]
    assert count_contacts(app, workspace) == 2
    report = client.get(result["errorsUrl"], headers=bearer(workspace)).data.decode()
    assert "alan@example.com" in report and "failed to parse" in report


def test_an_idle_worker_still_takes_the_next_job_at_once(
    client, app, workspace, auth, worker_starter, monkeypatch, tmp_path
):
    """rq waits for jobs in a blocking pop far longer than a request's Redis read timeout:
    the worker's queue connection must not time out under it (it would fall into a
    reconnect back-off and leave jobs waiting)."""
    monkeypatch.setitem(app.config, "IMPORT_SYNC_MAX_BYTES", 1000)
    worker_starter()
    time.sleep(5)  # idle past the 2 s read timeout of request connections
    response = upload(client, auth, workspace, csv_bytes(30))
    assert response.status_code == 202, response.json
    started = time.monotonic()
    wait_for(client, auth, response.json["data"]["id"], lambda r: r["status"] == "completed")
    assert time.monotonic() - started < 15
    log = (tmp_path / "worker-0.log").read_text()
    assert "could not connect to Redis" not in log, log[-2000:]
