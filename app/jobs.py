"""Background jobs on rq: the import queue, its job function, and the worker's clients.

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
from opensearchpy import OpenSearch  # noqa: E402
from rq import Queue, Worker  # noqa: E402, F401  (Worker: for scripts/worker.py)
from rq.exceptions import NoSuchJobError  # noqa: E402
from rq.job import Job  # noqa: E402

from app.services.contacts import ContactService
from app.services.dnc import DncService
from app.services.dnc_reconcile import DncReconciler
from app.services.imports import ImportService

WAITING = ("queued", "deferred", "scheduled")
_worker_service: tuple[int, ImportService] | None = None


def config_dict(config_class: type = Config) -> dict:
    return {name: getattr(config_class, name) for name in dir(config_class) if name.isupper()}


def queue_name(config: dict) -> str:
    return f"{config['REDIS_KEY_PREFIX']}imports"


def import_queue(redis_client: redis.Redis, config: dict) -> Queue:
    return Queue(queue_name(config), connection=redis_client)


def rq_job_id(import_id: str, attempt: int) -> str:
    return f"{import_id}-{attempt}"


def run_import(workspace_id: str, import_id: str) -> str:
    """The job: run or resume one import to its end."""
    record = worker_service().run(workspace_id, import_id)
    return record["status"] if record else "missing"


def job_hooks(queue: Queue, config: dict):
    """enqueue(workspace, import, attempt) and is_waiting(import, attempt) for ImportService."""

    def enqueue(workspace_id: str, import_id: str, attempt: int) -> None:
        queue.enqueue(
            run_import,
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


def build_service(config: dict) -> ImportService:
    """An ImportService with its own clients, for the worker and the command line."""
    client = OpenSearch(
        hosts=config["OPENSEARCH_HOSTS"],
        # Bulk requests of a few thousand documents can take longer than a page read.
        timeout=max(60.0, config["OPENSEARCH_TIMEOUT"]),
        max_retries=2,
        retry_on_timeout=True,
        # The bulk sender thread and the duplicate lookups talk to the engine at once.
        pool_maxsize=4,
    )
    redis_client = redis.Redis.from_url(config["REDIS_URL"], health_check_interval=30)
    dnc = build_dnc_service(client, redis_client, config)
    # Imported contacts get the same DNC flag as created ones.
    contacts = ContactService(
        client, config["INDEX_PREFIX"], config["DEFAULT_COUNTRY"], annotate=dnc.flag_contacts
    )
    enqueue, is_waiting = job_hooks(import_queue(redis_client, config), config)
    return ImportService(client, redis_client, contacts, config, enqueue, is_waiting)


def build_dnc_service(client: OpenSearch, redis_client: redis.Redis, config: dict) -> DncService:
    return DncService(
        client,
        redis_client,
        config["INDEX_PREFIX"],
        config["REDIS_KEY_PREFIX"],
        config["DEFAULT_COUNTRY"],
        bucket_target=config["DNC_CACHE_BUCKET_TARGET"],
        lazy_build=config["DNC_CACHE_LAZY_BUILD"],
    )


def build_dnc_reconciler(config: dict) -> DncReconciler:
    """The worker's reconciler, with clients of its own."""
    client = OpenSearch(hosts=config["OPENSEARCH_HOSTS"], timeout=60, max_retries=2)
    redis_client = redis.Redis.from_url(config["REDIS_URL"], health_check_interval=30)
    return DncReconciler(build_dnc_service(client, redis_client, config))


def worker_service() -> ImportService:
    """One service per process (a forked work-horse builds its own clients)."""
    global _worker_service
    if _worker_service is None or _worker_service[0] != os.getpid():
        _worker_service = (os.getpid(), build_service(config_dict()))
    return _worker_service[1]
