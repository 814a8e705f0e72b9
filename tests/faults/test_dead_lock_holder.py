"""A process that dies holding a workspace's DNC flags lock holds up its DNC writes only
for the lock's short lifetime.

Every DNC write of a workspace sets or clears its contacts' flags under one lock
(DncService.flags_lock). Its holder renews it while it lives; a holder killed with -9
(an OOM kill, a lost host) leaves the lock to lapse on its own. Its lifetime
(DNC_FLAGS_LOCK_SECONDS) is shorter than the time a write waits for the lock, so a "do
not call me" request queued behind a dead holder is taken once the lock lapses, not
refused with a 503 (the 30 s lifetime this replaced outlasted the 20 s wait).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from app.services.dnc_contact_sync import FLAGS_LOCK_WAIT_SECONDS
from tests.conftest import bearer

ROOT = Path(__file__).resolve().parents[2]
# Takes the lock as a flag writer does, says so, and waits to be killed.
HOLD = """
import sys, time, redis
from app.locks import RenewableLock
lock = RenewableLock(redis.Redis.from_url(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
assert lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_the_flags_lock_lapses_well_within_the_time_a_dnc_write_waits_for_it(app):
    assert app.config["DNC_FLAGS_LOCK_SECONDS"] < FLAGS_LOCK_WAIT_SECONDS / 1.5


def test_a_dnc_add_queued_behind_a_holder_that_died_is_taken_once_its_lock_lapses(
    app, client, workspace
):
    auth = bearer(workspace)
    key = f"{app.config['REDIS_KEY_PREFIX']}dnc:{{{workspace}}}:lock:flags"
    redis_client = app.extensions["redis"]
    lifetime = app.config["DNC_FLAGS_LOCK_SECONDS"]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, app.config["REDIS_URL"], key, str(lifetime)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    assert redis_client.exists(key), "the dead holder's lock should be left behind"

    body = {"workspaceId": workspace, "phone": "+14155550191", "reason": "asked"}
    added = client.post("/v1/dnc", json=body, headers=auth)
    assert added.status_code == 201, added.json
    assert not redis_client.exists(key)
    url = f"/v1/dnc/check?workspaceId={workspace}&phone={quote('+14155550191', safe='')}"
    listed = client.get(url, headers=auth)
    assert listed.status_code == 200 and listed.json["data"]["dnc"] is True
