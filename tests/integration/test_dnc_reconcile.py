"""The reconciler against the real servers: drift made behind the service's back is
found, repaired, counted, and the worker's loop does it on its own."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from prometheus_client import REGISTRY

from app import services
from app.dnc.encoding import number_of

LISTED, LOST, GHOST = "+14155550171", "+14155550172", "+14155550173"


def add(client, workspace, auth, phone):
    response = client.post("/v1/dnc", json={"workspaceId": workspace, "phone": phone}, headers=auth)
    assert response.status_code == 201, response.json


def repairs(kind: str) -> float:
    return REGISTRY.get_sample_value("dnc_reconcile_repairs_total", {"kind": kind}) or 0.0


def drift(app, workspace):
    """A Redis that lost one member and gained another (a failover, a bad restore)."""
    redis_client = app.extensions["redis"]
    with app.app_context():
        cache = services.dnc().cache
        layout = cache.state(workspace).live
        for phone, op in ((LOST, redis_client.srem), (GHOST, redis_client.sadd)):
            bucket, member = layout.split(number_of(phone))
            op(cache.bucket_key(workspace, layout.gen, bucket), member)


def test_drift_is_found_repaired_and_counted(app, client, workspace, auth):
    for phone in (LISTED, LOST):
        add(client, workspace, auth, phone)
    with app.app_context():
        service, reconciler = services.dnc(), services.dnc_reconciler()
        service.rebuild(workspace)
        assert reconciler.reconcile(workspace, full=True)["missing"] == 0
        drift(app, workspace)
        assert service.contains(workspace, [LOST, GHOST])[0] == [False, True]
        before = repairs("missing"), repairs("extra")
        quick = reconciler.reconcile(workspace)  # compared a moment ago: not due yet
        assert quick["full"] is False and quick["missing"] == 0
        report = reconciler.reconcile(workspace, full=True)
        assert (report["missing"], report["extra"], report["rebuilt"]) == (1, 1, False)
        assert (repairs("missing"), repairs("extra")) == (before[0] + 1, before[1] + 1)
        assert service.contains(workspace, [LISTED, LOST, GHOST]) == ([True, True, False], "cache")
        again = reconciler.reconcile(workspace, full=True)
        assert again["missing"] == again["extra"] == again["settledMarks"] == 0


def test_a_mark_left_by_a_dead_writer_is_settled_after_its_grace(app, client, workspace, auth):
    add(client, workspace, auth, LISTED)
    with app.app_context():
        service, reconciler = services.dnc(), services.dnc_reconciler()
        service.rebuild(workspace)
        service.cache.mark(workspace, [LOST])  # the writer died right after marking
        assert service.cache.contains_many(workspace, [LOST]) == [2]  # ask the record
        assert service.contains(workspace, [LOST]) == ([False], "opensearch")
        assert reconciler.reconcile(workspace)["settledMarks"] == 0  # still in its grace
        assert reconciler.reconcile(workspace, grace=0)["settledMarks"] == 1
        assert service.cache.marks(workspace) == {}
        assert service.contains(workspace, [LOST]) == ([False], "cache")


def test_the_workers_loop_repairs_drift_on_its_own(app, client, workspace, auth):
    for phone in (LISTED, LOST):
        add(client, workspace, auth, phone)
    with app.app_context():
        service, reconciler = services.dnc(), services.dnc_reconciler()
        service.rebuild(workspace)
        drift(app, workspace)
        stop = threading.Event()
        loop = threading.Thread(target=reconciler.run_forever, args=(stop, 0.2), daemon=True)
        loop.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if service.contains(workspace, [LOST, GHOST])[0] == [True, False]:
                    break
                time.sleep(0.2)
            assert service.contains(workspace, [LOST, GHOST]) == ([True, False], "cache")
        finally:
            stop.set()
            loop.join(timeout=60)


def test_the_command_exits_1_after_repairing_and_0_when_clean(app, client, workspace, auth):
    for phone in (LISTED, LOST):
        add(client, workspace, auth, phone)
    with app.app_context():
        services.dnc().rebuild(workspace)
    drift(app, workspace)
    command = [sys.executable, "-m", "app.cli", "reconcile", "--workspace", workspace]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr
    assert '"missing": 1' in first.stdout and '"extra": 1' in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
