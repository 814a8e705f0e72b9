"""Background jobs on rq: the import queue and how jobs are put on it and looked up.

The queue is named after REDIS_KEY_PREFIX so that environments (and test runs) sharing
one Redis never take each other's jobs.
"""

from __future__ import annotations

import os
import re

from app.config import Config

# rq names its own keys (jobs, registries, workers) after RQ_KEY_PREFIX, read once when rq
# is first imported: keep them under this environment's prefix too. The API and the
# worker both derive it from REDIS_KEY_PREFIX, so they agree.
os.environ.setdefault(
    "RQ_KEY_PREFIX", re.sub(r"[^A-Za-z0-9_.:-]", "_", Config.REDIS_KEY_PREFIX) + "rq"
)

import redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402, F401  (Worker: for app/worker.py)
from rq.exceptions import NoSuchJobError  # noqa: E402
from rq.job import Job  # noqa: E402

WAITING = ("queued", "deferred", "scheduled")
# By dotted name: the queue needs no import of the worker's services.
RUN_IMPORT = "app.worker.run_import"


def config_dict(config_class: type = Config) -> dict:
    return {name: getattr(config_class, name) for name in dir(config_class) if name.isupper()}


def queue_name(config: dict) -> str:
    return f"{config['REDIS_KEY_PREFIX']}imports"


def import_queue(redis_client: redis.Redis, config: dict) -> Queue:
    return Queue(queue_name(config), connection=redis_client)


def rq_job_id(import_id: str, attempt: int) -> str:
    return f"{import_id}-{attempt}"


def job_hooks(queue: Queue, config: dict):
    """enqueue(workspace, import, attempt) and is_waiting(import, attempt) for ImportService."""

    def enqueue(workspace_id: str, import_id: str, attempt: int) -> None:
        queue.enqueue(
            RUN_IMPORT,
            workspace_id,
            import_id,
            job_id=rq_job_id(import_id, attempt),
            job_timeout=config["IMPORT_JOB_TIMEOUT"],
            result_ttl=config["IMPORT_RETENTION_SECONDS"],
            failure_ttl=config["IMPORT_RETENTION_SECONDS"],
            description=f"import {import_id} attempt {attempt}",
        )

    def is_waiting(import_id: str, attempt: int) -> bool:
        try:
            job = Job.fetch(rq_job_id(import_id, attempt), connection=queue.connection)
        except NoSuchJobError:
            return False
        return job.get_status() in WAITING

    return enqueue, is_waiting
