"""The background worker: rq on this environment's import queue, plus two loops.

Beside rq's loop, a thread re-queues imports whose run died (the worker was killed, the
machine restarted): their lock stops being renewed, and the next attempt resumes from
the last checkpoint without writing any contact twice. The same thread sweeps import
files whose record expired (every IMPORT_SWEEP_SECONDS). Another thread reconciles the
DNC caches with the record every DNC_RECONCILE_SECONDS; two more purge the change feed
past its retention and deliver webhooks; one finishes merges whose process died.

Jobs are enqueued by dotted name (`app.worker.run_import`), so the queue module imports
no service; this module builds the process's services through the wiring.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time

import redis

# rq comes through app.jobs, which sets its key prefix before rq is first imported.
from app.heap import freeze_startup_objects
from app.jobs import Worker, config_dict, import_queue
from app.services.merges import RECOVER_SECONDS
from app.wiring import Wiring, jobs_redis_client

_wiring: tuple[int, Wiring] | None = None


def wiring() -> Wiring:
    """One wiring per process (a forked work-horse builds its own clients)."""
    global _wiring
    if _wiring is None or _wiring[0] != os.getpid():
        _wiring = (os.getpid(), Wiring(config_dict(), background=True))
        freeze_startup_objects()
    return _wiring[1]


def run_import(workspace_id: str, import_id: str) -> str:
    """The job: run or resume one import to its end."""
    record = wiring().imports.run(workspace_id, import_id)
    return record["status"] if record else "missing"


log = logging.getLogger("worker")


def recover_forever(stop: threading.Event, interval: float, sweep_every: float) -> None:
    service = wiring().imports
    next_sweep = time.monotonic()
    while not stop.is_set():
        try:
            service.recover()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + sweep_every
                service.sweep_files()  # files of expired or finished imports
        except redis.RedisError as exc:  # Redis blips must not kill the recovery loop
            log.warning("import recovery skipped: %s", exc)
        except Exception:  # nor anything else: a dead loop would strand stalled imports
            log.exception("import recovery failed; retrying")
        stop.wait(interval)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = config_dict()
    connection = jobs_redis_client(config, blocking=True)  # rq's BLPOP waits for jobs
    queue = import_queue(connection, config)
    stop = threading.Event()
    interval = max(0.5, config["IMPORT_LOCK_SECONDS"] / 4)
    sweep_every = config["IMPORT_SWEEP_SECONDS"]
    threading.Thread(
        target=recover_forever, args=(stop, interval, sweep_every), daemon=True
    ).start()
    if config["DNC_RECONCILE_SECONDS"] > 0:
        # Cache and record compared and repaired, one worker at a time (by lock).
        threading.Thread(
            target=wiring().dnc_reconciler.run_forever,
            args=(stop, config["DNC_RECONCILE_SECONDS"]),
            daemon=True,
            name="dnc-reconcile",
        ).start()
    # The change feed's retention purge and the webhook deliveries (app/services/changes.py,
    # app/services/webhooks.py); each subscription is delivered under its own lock.
    threading.Thread(
        target=wiring().change_retention.purge_forever,
        args=(stop, config["CHANGES_PURGE_SECONDS"]),
        daemon=True,
        name="changes-purge",
    ).start()
    # Merges whose process died half-way are finished (or aborted) by this thread.
    threading.Thread(
        target=wiring().merges.recover_forever,
        args=(stop, RECOVER_SECONDS),
        daemon=True,
        name="merge-recovery",
    ).start()
    threading.Thread(
        target=wiring().webhooks.deliver_forever,
        args=(stop, config["WEBHOOK_POLL_SECONDS"]),
        daemon=True,
        name="webhooks",
    ).start()
    try:
        for attempt in itertools.count():
            name = f"imports-{socket.gethostname()}-{os.getpid()}-{attempt}"
            log.info("worker %s on queue %s", name, queue.name)
            try:
                Worker([queue], connection=connection, name=name).work(with_scheduler=False)
                return  # asked to stop (SIGTERM / SIGINT)
            except redis.ConnectionError as exc:
                # Redis went away: wait for it rather than exit. A job cut off mid-run is
                # re-queued by the recovery thread once its lock lapses, and resumes.
                log.warning("Redis unavailable (%s); worker restarts when it is back", exc)
                wait_for_redis(connection, stop)
    finally:
        stop.set()


def wait_for_redis(connection: redis.Redis, stop: threading.Event) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            connection.ping()
            return
        except redis.ConnectionError:
            stop.wait(delay)
            delay = min(delay * 2, 5.0)
