"""Settings from the environment, with defaults that match the local stack."""

from __future__ import annotations

import os
from collections.abc import Mapping


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def index_topology(name: str, environ: Mapping[str, str] = os.environ) -> dict[str, int | str]:
    """Shard layout of index `name` ("contacts", "dnc", ...) from the environment.

    The mapping files ship the single-node layout (1 shard, 0 replicas); a deployment
    overrides it per index without touching them:

        INDEX_SHARDS_<NAME>                   primary shards (fixed once the index exists;
                                              `make reindex` builds a version with the new
                                              number)
        INDEX_REPLICAS_<NAME>, INDEX_REPLICAS copies of each shard on other nodes (the
                                              per-index value wins)
        INDEX_ROUTING_PARTITION_SIZE_<NAME>   shards one routing key (a workspace) spreads
                                              over; must be < the shard count. Fixed at
                                              creation, changed by a reindex.
        INDEX_WAIT_FOR_ACTIVE_SHARDS          copies that must be up before a write starts
                                              ("1" or "all"; see docs/scaling.md)

    Only the settings given are returned; a bad value raises at startup, not on the
    first write.
    """
    suffix = name.upper().replace("-", "_")
    keys = {
        "number_of_shards": (f"INDEX_SHARDS_{suffix}",),
        "number_of_replicas": (f"INDEX_REPLICAS_{suffix}", "INDEX_REPLICAS"),
        "routing_partition_size": (f"INDEX_ROUTING_PARTITION_SIZE_{suffix}",),
    }
    topology: dict[str, int | str] = {}
    for setting, variables in keys.items():
        variable = next((v for v in variables if environ.get(v, "").strip()), None)
        if variable is None:
            continue
        value = environ[variable].strip()
        lowest = 0 if setting == "number_of_replicas" else 1
        # OpenSearch allows at most 1024 primary shards per index.
        if not (value.isascii() and value.isdigit() and lowest <= int(value[:6]) <= 1024):
            raise ValueError(f"{variable} must be a whole number {lowest}..1024, got {value!r}")
        topology[setting] = int(value)
    partition = topology.get("routing_partition_size", 1)
    if partition > 1 and partition >= topology.get("number_of_shards", 1):
        raise ValueError(
            f"INDEX_ROUTING_PARTITION_SIZE_{suffix} must be below INDEX_SHARDS_{suffix}"
        )
    active = environ.get("INDEX_WAIT_FOR_ACTIVE_SHARDS", "").strip()
    if active:
        if active != "all" and not (active.isascii() and active.isdigit() and len(active) < 5):
            raise ValueError(f"INDEX_WAIT_FOR_ACTIVE_SHARDS must be a number or all: {active!r}")
        topology["write.wait_for_active_shards"] = active
    return topology


class Config:
    # Several hosts for a cluster: "http://os1:9200,http://os2:9200".
    OPENSEARCH_HOSTS = _env_list("OPENSEARCH_HOSTS", "http://127.0.0.1:9200")
    OPENSEARCH_TIMEOUT = float(os.environ.get("OPENSEARCH_TIMEOUT", "10"))
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
    # Background jobs (rq) on their own plain Redis; empty = REDIS_URL. rq does not run on
    # a Redis Cluster (its keys carry no hash tag), so a deployment whose REDIS_URL is a
    # cluster points this at a single server. Queues hold job ids only, no tenant data.
    RQ_REDIS_URL = os.environ.get("RQ_REDIS_URL", "")
    # REDIS_URL names one node of a Redis Cluster (then set RQ_REDIS_URL too).
    REDIS_CLUSTER = os.environ.get("REDIS_CLUSTER", "false").lower() == "true"
    # Prefixes keep environments (and test runs) apart on shared servers.
    INDEX_PREFIX = os.environ.get("INDEX_PREFIX", "")
    REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "contacts:")

    # Bearer tokens: HS256 with a shared secret, or RS256 with a PEM public key.
    JWT_ALGORITHMS = _env_list("JWT_ALGORITHMS", "HS256")
    JWT_SECRET = os.environ.get("JWT_SECRET", "dev-only-secret-change-me-0123456789abcdef")
    JWT_PUBLIC_KEY = os.environ.get("JWT_PUBLIC_KEY", "")
    JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE") or None
    JWT_ISSUER = os.environ.get("JWT_ISSUER") or None
    JWT_LEEWAY_SECONDS = int(os.environ.get("JWT_LEEWAY_SECONDS", "30"))

    DEFAULT_COUNTRY = os.environ.get("DEFAULT_COUNTRY", "US")
    CORS_ORIGINS = _env_list("CORS_ORIGINS", "http://localhost:3000")
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_BODY_BYTES", str(1024 * 1024)))
    MAX_IMPORT_BYTES = int(os.environ.get("MAX_IMPORT_BYTES", str(100 * 1024 * 1024)))
    # CSV import: files up to this size run inside the request (200), larger ones on the
    # worker (202). Measured with bench/imports.py on the 2-core reference machine:
    # ~1,500 rows/s at ~82 bytes a row, so 256 KiB (~3,000 rows) answers within ~2 s.
    IMPORT_SYNC_MAX_BYTES = int(os.environ.get("IMPORT_SYNC_MAX_BYTES", str(256 * 1024)))
    IMPORT_DIR = os.environ.get(
        "IMPORT_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".stack", "imports")
    )
    IMPORT_CHUNK_ROWS = int(os.environ.get("IMPORT_CHUNK_ROWS", "2000"))
    IMPORT_MAX_LINE_CHARS = int(os.environ.get("IMPORT_MAX_LINE_CHARS", str(256 * 1024)))
    IMPORT_MAX_COLUMNS = int(os.environ.get("IMPORT_MAX_COLUMNS", "500"))
    IMPORT_MAX_FIELD_CHARS = int(os.environ.get("IMPORT_MAX_FIELD_CHARS", "10000"))
    # A run renews its lock after every chunk; a lock older than this means the run died.
    IMPORT_LOCK_SECONDS = float(os.environ.get("IMPORT_LOCK_SECONDS", "60"))
    IMPORT_MAX_ATTEMPTS = int(os.environ.get("IMPORT_MAX_ATTEMPTS", "3"))
    IMPORT_JOB_TIMEOUT = int(os.environ.get("IMPORT_JOB_TIMEOUT", str(4 * 3600)))
    IMPORT_RETENTION_SECONDS = int(os.environ.get("IMPORT_RETENTION_SECONDS", str(7 * 86400)))
    # Import files (uploads, error reports) one workspace may hold on disk; past it, 507.
    IMPORT_WORKSPACE_MAX_BYTES = int(
        os.environ.get("IMPORT_WORKSPACE_MAX_BYTES", str(1024 * 1024 * 1024))
    )
    # The worker sweeps files whose import record is gone this often; a folder touched
    # more recently than the grace is an upload still being written, and is left alone.
    IMPORT_SWEEP_SECONDS = float(os.environ.get("IMPORT_SWEEP_SECONDS", "300"))
    IMPORT_ORPHAN_GRACE_SECONDS = float(os.environ.get("IMPORT_ORPHAN_GRACE_SECONDS", "900"))
    RETRY_AFTER_SECONDS = int(os.environ.get("RETRY_AFTER_SECONDS", "5"))
    # Idempotency-Key records (create, import, DNC add) are kept this long.
    IDEMPOTENCY_TTL_SECONDS = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", str(24 * 3600)))
    # A request holds its key for this long, renewed while it runs: a worker that dies
    # mid-request frees the key within these seconds instead of answering 409 for a day.
    IDEMPOTENCY_LEASE_SECONDS = float(os.environ.get("IDEMPOTENCY_LEASE_SECONDS", "10"))

    # Operations: logs, metrics, rate limits, reindex.
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")  # json | text
    METRICS_ENABLED = os.environ.get("METRICS_ENABLED", "true").lower() == "true"
    # /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; with no token it is
    # not served (404) unless METRICS_PUBLIC=true (a scrape network nobody else reaches).
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    METRICS_PUBLIC = os.environ.get("METRICS_PUBLIC", "false").lower() == "true"
    RATE_LIMIT_ENABLED = os.environ.get("RATE_LIMIT_ENABLED", "true").lower() == "true"
    # Per token and scope, "<limit>/<seconds>"; `default` covers scopes not listed.
    RATE_LIMITS = os.environ.get(
        "RATE_LIMITS",
        "default=600/60,contacts:read=1200/60,contacts:write=600/60,contacts:export=10/60,"
        "contacts:import=20/60,dnc:read=3000/60,dnc:write=600/60,dnc:import=10/60,"
        "anonymous=120/60",
    )
    # Writes refused by the reindex's brief write freeze are retried for this long.
    REINDEX_FREEZE_RETRY_SECONDS = float(os.environ.get("REINDEX_FREEZE_RETRY_SECONDS", "15"))
    EXPORT_PAGE_SIZE = int(os.environ.get("EXPORT_PAGE_SIZE", "1000"))
    OPENSEARCH_POOL_SIZE = int(os.environ.get("OPENSEARCH_POOL_SIZE", "16"))

    # Search cursors page inside a point in time kept alive this long between pages.
    SEARCH_PIT_KEEP_ALIVE = os.environ.get("SEARCH_PIT_KEEP_ALIVE", "1m")
    # Points in time one workspace may hold at once (paged searches and exports); the
    # engine's limit for all tenants together is search.max_open_pit_context (300).
    PIT_MAX_PER_WORKSPACE = int(os.environ.get("PIT_MAX_PER_WORKSPACE", "20"))
    # HMAC key of paging cursors. Set it in production (any long random string, the same
    # on every API worker); the default is public and lets anyone forge cursors.
    CURSOR_SECRET = os.environ.get("CURSOR_SECRET", "dev-only-cursor-secret-change-me")
    # HMAC key of the ids of contacts created under a key (an externalId, an upsert's
    # phone or email; app/services/keys.py), so an id cannot be traced back to a number.
    # Set it once per deployment, the same everywhere, and never change it (unset: a
    # public development key).
    KEY_ID_SECRET = os.environ.get("KEY_ID_SECRET", "")

    # DNC cache: average numbers per Redis bucket (intset) when a workspace's cache is
    # built; keep it well under set-max-intset-entries (512). Lazy build: a workspace
    # whose cache is not ready is answered from OpenSearch and built in the background.
    DNC_CACHE_BUCKET_TARGET = int(os.environ.get("DNC_CACHE_BUCKET_TARGET", "128"))
    DNC_CACHE_LAZY_BUILD = os.environ.get("DNC_CACHE_LAZY_BUILD", "true").lower() == "true"
    # Lifetime of a workspace's DNC flags lock (renewed every quarter of it while its
    # holder lives): how long a holder that died (kill -9, a lost host) holds up the
    # workspace's DNC writes. Below the 20 s a write waits for the lock, so one queued behind
    # a dead holder is taken once its lock lapses instead of being refused.
    DNC_FLAGS_LOCK_SECONDS = float(os.environ.get("DNC_FLAGS_LOCK_SECONDS", "10"))
    # The worker compares every workspace's DNC cache with the record this often and
    # repairs differences (app/services/dnc_reconcile.py); 0 turns the loop off.
    DNC_RECONCILE_SECONDS = float(os.environ.get("DNC_RECONCILE_SECONDS", "60"))
    # ...and compares every number (cache, record, contacts' flags) this often per workspace.
    DNC_RECONCILE_FULL_SECONDS = float(os.environ.get("DNC_RECONCILE_FULL_SECONDS", "3600"))
    DNC_MAX_IMPORT_ROWS = int(os.environ.get("DNC_MAX_IMPORT_ROWS", "1000000"))
    # A revoked consent adds a DNC entry unless the workspace's setting says otherwise.
    CONSENT_REVOKE_ADDS_DNC = os.environ.get("CONSENT_REVOKE_ADDS_DNC", "true").lower() == "true"

    # Calling window (app/calling): the default when a workspace has saved no policy (the
    # US federal TCPA hours, callee-local), and how far ahead the next allowed start is
    # searched for before the answer is "none within the horizon".
    CALLING_WINDOW_START = os.environ.get("CALLING_WINDOW_START", "08:00")
    CALLING_WINDOW_END = os.environ.get("CALLING_WINDOW_END", "21:00")
    CALLING_WINDOW_HORIZON_DAYS = int(os.environ.get("CALLING_WINDOW_HORIZON_DAYS", "14"))

    # Change feed (app/services/changes.py): how long changes and tombstones are kept (a
    # cursor older than that answers 410), how often the worker purges, and how long a
    # write may stay announced before a reader settles it from the records it touched.
    CHANGES_RETENTION_SECONDS = float(os.environ.get("CHANGES_RETENTION_SECONDS", str(30 * 86400)))
    CHANGES_PURGE_SECONDS = float(os.environ.get("CHANGES_PURGE_SECONDS", "3600"))
    CHANGES_SETTLE_SECONDS = float(os.environ.get("CHANGES_SETTLE_SECONDS", "30"))
    # Webhooks (app/services/webhooks.py): delivery by the worker, retried with exponential
    # backoff from WEBHOOK_BACKOFF_SECONDS up to WEBHOOK_BACKOFF_MAX_SECONDS, paused after
    # WEBHOOK_MAX_FAILURES consecutive failures. Private and loopback targets are refused
    # unless WEBHOOK_ALLOW_PRIVATE (link-local and cloud metadata addresses always are).
    WEBHOOK_ALLOW_PRIVATE = os.environ.get("WEBHOOK_ALLOW_PRIVATE", "false").lower() == "true"
    WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("WEBHOOK_BACKOFF_SECONDS", "5"))
    WEBHOOK_BACKOFF_MAX_SECONDS = float(os.environ.get("WEBHOOK_BACKOFF_MAX_SECONDS", "3600"))
    WEBHOOK_MAX_FAILURES = int(os.environ.get("WEBHOOK_MAX_FAILURES", "10"))
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
    WEBHOOK_POLL_SECONDS = float(os.environ.get("WEBHOOK_POLL_SECONDS", "1"))
    # Keys that seal webhook signing secrets at rest (app/changes/sealing.py): comma-
    # separated passphrases, the first seals and every one opens (rotation: new key first,
    # drop the old once every subscription was saved again). Unset: a public development key.
    WEBHOOK_SECRET_KEYS = os.environ.get("WEBHOOK_SECRET_KEYS", "")
    WEBHOOKS_PER_WORKSPACE = int(os.environ.get("WEBHOOKS_PER_WORKSPACE", "10"))

    API_TITLE = "Contacts API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_REDOC_PATH = "/docs"
    # Served by the app from the pinned `redoc` npm package (app/api/console.py): /docs
    # works offline and loads nothing from a CDN.
    OPENAPI_REDOC_URL = "/console/vendor/redoc.standalone.js"
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        },
        "security": [{"bearerAuth": []}],
    }


class TestConfig(Config):
    TESTING = True
    # Suites hammer one token; the rate-limit tests build their own app with limits on.
    RATE_LIMIT_ENABLED = False
    CURSOR_SECRET = "test-cursor-secret-0123456789abcdef"
    METRICS_TOKEN = "test-metrics-token"
    # Webhook tests deliver to a receiver on 127.0.0.1.
    WEBHOOK_ALLOW_PRIVATE = True
