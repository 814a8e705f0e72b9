"""The composition root: the one place that builds clients and services from a config.

The API (`create_app`), the rq worker and every command build a `Wiring` and ask it for
services, so they all share one set of behaviours: the OpenSearch client is made here
once, instrumented with the metrics and wrapped with the reindex write-freeze retry;
the Redis client likewise. Nothing below this module builds a client of its own.

Layers (imports only run downwards):
    app.api (HTTP) -> app.schemas -> app.services -> app.search, app.dnc, app.imports
    -> the clients made here. app.wiring sits beside create_app, above the services.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import redis
from opensearchpy import OpenSearch
from redis.cluster import RedisCluster

from app import jobs, observability
from app.changes.sealing import SecretBox
from app.jsonio import EngineSerializer
from app.search.pits import PitBudget
from app.search.shards import complete_reads
from app.search.write_freeze import freeze_tolerant
from app.services.batch import BatchService
from app.services.calling_window import CallingWindowService
from app.services.change_retention import ChangeRetention
from app.services.changes import ChangeLog
from app.services.consent import ConsentService
from app.services.contacts import ContactService
from app.services.dnc import DncService
from app.services.dnc_reconcile import DncReconciler
from app.services.duplicates import DuplicateService
from app.services.export import ExportService
from app.services.external_ids import ExternalIdClaims
from app.services.imports import ImportService
from app.services.merges import MergeService
from app.services.search import SearchService
from app.services.webhooks import WebhookService


def opensearch_client(config: Mapping, *, background: bool = False) -> OpenSearch:
    """The engine client. `background` (worker, commands): bulk requests of a few thousand
    documents may take longer than a page read, and a timed-out read may be retried."""
    client = OpenSearch(
        hosts=config["OPENSEARCH_HOSTS"],
        timeout=max(60.0, config["OPENSEARCH_TIMEOUT"])
        if background
        else config["OPENSEARCH_TIMEOUT"],
        # One quick retry on a connection blip; beyond that the caller gets a 503.
        max_retries=2 if background else 1,
        retry_on_timeout=background,
        http_compress=False,
        # One kept-alive connection per request thread (gthread serves several).
        pool_maxsize=config.get("OPENSEARCH_POOL_SIZE", 16),
        # Queries, documents, bulk bodies and replies through orjson (app/jsonio.py).
        serializer=EngineSerializer(),
    )
    observability.instrument_opensearch(client)
    freeze_tolerant(client, config["REINDEX_FREEZE_RETRY_SECONDS"])
    # A search or multi-get that missed a shard (a node just lost) is retried, then a 503.
    complete_reads(client)
    return client


def redis_client(config: Mapping, *, blocking: bool = False, url: str | None = None) -> redis.Redis:
    """The Redis client. Requests give up on a read after 2 s (a check then asks the
    record); `blocking` is the rq worker's connection, whose BLPOP waits far longer for
    the next job and must not time out under it. REDIS_CLUSTER=true makes the one Redis
    (not the job queues' own, RQ_REDIS_URL) a Redis Cluster client: every multi-key
    script and pipeline stays in one workspace's slot by its `{ws}` hash tag."""
    timeouts = {"socket_connect_timeout": 1, "socket_timeout": None if blocking else 2}
    if url is None and config.get("REDIS_CLUSTER"):
        client = RedisCluster.from_url(config["REDIS_URL"], **timeouts)
    else:
        client = redis.Redis.from_url(
            url or config["REDIS_URL"], health_check_interval=30, **timeouts
        )
    observability.instrument_redis(client)
    return client


def jobs_redis_client(config: Mapping, *, blocking: bool = False) -> redis.Redis:
    """The Redis of the rq queues: RQ_REDIS_URL when set, else the one Redis."""
    return redis_client(config, blocking=blocking, url=config.get("RQ_REDIS_URL") or None)


class Wiring:
    """Clients and services of one process, each built once, on first use."""

    def __init__(self, config: Mapping, *, background: bool = False) -> None:
        self.config = config
        self.opensearch = opensearch_client(config, background=background)
        self.redis = redis_client(config)
        self._built: dict[str, object] = {}
        self._lock = threading.RLock()

    def _once(self, name: str, build):
        # Request threads may ask at the same time; services hold state, so build once.
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]

    def forget(self, name: str) -> None:
        """Drop a built service; the next use builds it from the config as it is now."""
        with self._lock:
            self._built.pop(name, None)

    @property
    def dnc(self) -> DncService:
        return self._once(
            "dnc",
            lambda: DncService(
                self.opensearch,
                self.redis,
                self.config["INDEX_PREFIX"],
                self.config["REDIS_KEY_PREFIX"],
                self.config["DEFAULT_COUNTRY"],
                bucket_target=self.config["DNC_CACHE_BUCKET_TARGET"],
                lazy_build=self.config["DNC_CACHE_LAZY_BUILD"],
                flags_lock_seconds=self.config["DNC_FLAGS_LOCK_SECONDS"],
                on_change=lambda workspace_id, events: self.changes.record_dnc(
                    workspace_id, events
                ),
            ),
        )

    @property
    def changes(self) -> ChangeLog:
        return self._once(
            "changes",
            lambda: ChangeLog(
                self.opensearch,
                self.redis,
                self.config["INDEX_PREFIX"],
                self.config["REDIS_KEY_PREFIX"],
                cursor_key=self.config["CURSOR_SECRET"],
                settle_seconds=self.config["CHANGES_SETTLE_SECONDS"],
            ),
        )

    @property
    def dnc_reconciler(self) -> DncReconciler:
        return self._once(
            "dnc_reconciler",
            lambda: DncReconciler(self.dnc, full_every=self.config["DNC_RECONCILE_FULL_SECONDS"]),
        )

    @property
    def change_retention(self) -> ChangeRetention:
        return self._once(
            "change_retention",
            lambda: ChangeRetention(
                self.opensearch,
                self.config["INDEX_PREFIX"],
                self.config["CHANGES_RETENTION_SECONDS"],
            ),
        )

    @property
    def webhooks(self) -> WebhookService:
        return self._once(
            "webhooks",
            lambda: WebhookService(
                self.opensearch,
                self.redis,
                self.config["INDEX_PREFIX"],
                self.config["REDIS_KEY_PREFIX"],
                self.changes,
                allow_private=self.config["WEBHOOK_ALLOW_PRIVATE"],
                backoff_seconds=self.config["WEBHOOK_BACKOFF_SECONDS"],
                backoff_max_seconds=self.config["WEBHOOK_BACKOFF_MAX_SECONDS"],
                max_failures=self.config["WEBHOOK_MAX_FAILURES"],
                timeout_seconds=self.config["WEBHOOK_TIMEOUT_SECONDS"],
                per_workspace=self.config["WEBHOOKS_PER_WORKSPACE"],
                secret_box=SecretBox(self.config["WEBHOOK_SECRET_KEYS"]),
            ),
        )

    @property
    def contacts(self) -> ContactService:
        return self._once(
            "contacts",
            lambda: ContactService(
                self.opensearch,
                self.config["INDEX_PREFIX"],
                self.config["DEFAULT_COUNTRY"],
                # Every page of contacts (and every written one) gets `dnc` from the list.
                annotate=self.dnc.flag_contacts,
                cursor_key=self.config["CURSOR_SECRET"],
                changes=self.changes,
                key_secret=self.config["KEY_ID_SECRET"],
                claims=ExternalIdClaims(self.redis, self.config["REDIS_KEY_PREFIX"]),
            ),
        )

    @property
    def batch(self) -> BatchService:
        return self._once("batch", lambda: BatchService(self.opensearch, self.contacts))

    @property
    def consents(self) -> ConsentService:
        return self._once(
            "consents",
            lambda: ConsentService(
                self.opensearch,
                self.config["INDEX_PREFIX"],
                self.dnc,
                revoke_adds_dnc=self.config["CONSENT_REVOKE_ADDS_DNC"],
            ),
        )

    @property
    def calling_window(self) -> CallingWindowService:
        return self._once(
            "calling_window",
            lambda: CallingWindowService(
                self.opensearch,
                self.config["INDEX_PREFIX"],
                self.contacts,
                # Every answer consults the DNC list: a listed number is never "allowed".
                dnc_listed=lambda workspace_id, phones, campaign="": self.dnc.contains(
                    workspace_id, phones, campaign
                )[0],
                default_country=self.config["DEFAULT_COUNTRY"],
                default_window={
                    "start": self.config["CALLING_WINDOW_START"],
                    "end": self.config["CALLING_WINDOW_END"],
                },
                horizon_days=self.config["CALLING_WINDOW_HORIZON_DAYS"],
            ),
        )

    @property
    def merges(self) -> MergeService:
        return self._once(
            "merges",
            lambda: MergeService(
                self.contacts,
                self.redis,
                self.config["INDEX_PREFIX"],
                self.config["REDIS_KEY_PREFIX"],
            ),
        )

    @property
    def duplicates(self) -> DuplicateService:
        return self._once(
            "duplicates", lambda: DuplicateService(self.contacts, self.config["INDEX_PREFIX"])
        )

    @property
    def search(self) -> SearchService:
        return self._once(
            "search",
            lambda: SearchService(
                self.opensearch,
                self.config["INDEX_PREFIX"],
                self.contacts,
                cursor_key=self.config["CURSOR_SECRET"],
                pits=PitBudget(
                    self.redis,
                    self.config["REDIS_KEY_PREFIX"],
                    limit=self.config["PIT_MAX_PER_WORKSPACE"],
                    keep_alive=self.config["SEARCH_PIT_KEEP_ALIVE"],
                ),
                pit_keep_alive=self.config["SEARCH_PIT_KEEP_ALIVE"],
            ),
        )

    @property
    def export(self) -> ExportService:
        return self._once(
            "export",
            lambda: ExportService(self.search, page_size=self.config["EXPORT_PAGE_SIZE"]),
        )

    @property
    def imports(self) -> ImportService:
        def build() -> ImportService:
            connection = (
                jobs_redis_client(self.config) if self.config.get("RQ_REDIS_URL") else self.redis
            )
            queue = jobs.import_queue(connection, self.config)
            enqueue, is_waiting = jobs.job_hooks(queue, self.config)
            return ImportService(
                self.opensearch, self.redis, self.contacts, self.config, enqueue, is_waiting
            )

        return self._once("imports", build)
