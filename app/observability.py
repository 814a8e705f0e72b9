"""Observability: JSON logs with a request id, and Prometheus metrics at /metrics.

Other modules record what only they know through the small functions at the bottom
(`record_import_job`, `record_import_rows`, `record_dnc_cache`); the HTTP, OpenSearch
and Redis metrics are collected here by wrapping the clients once per app.

Under gunicorn each worker is its own process: set PROMETHEUS_MULTIPROC_DIR (the
gunicorn config does) and /metrics aggregates every worker's samples.

/metrics names every route, backend and error rate: it is not for the public. It is
served only with METRICS_TOKEN (the scraper sends `Authorization: Bearer <token>`), or
without one when METRICS_PUBLIC=true says the port is reachable by scrapers alone;
otherwise it is not served at all (404).
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter

from app.auth import bearer_token
from app.errors import Unauthorized

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is echoed only when it is short and plain: it lands in every log line.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNOBSERVED_PATHS = ("/metrics", "/healthz", "/readyz")

# Per-keystroke search is the fast path: fine buckets below 100 ms.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route (the URL rule, not the raw path).",
    ("method", "route", "status"),
    buckets=LATENCY_BUCKETS,
)
OPENSEARCH_LATENCY = Histogram(
    "opensearch_request_duration_seconds",
    "OpenSearch call latency by operation.",
    ("operation",),
    buckets=LATENCY_BUCKETS,
)
OPENSEARCH_ERRORS = Counter(
    "opensearch_errors_total",
    "OpenSearch calls that failed, by operation and error.",
    ("operation", "error"),
)
REDIS_LATENCY = Histogram(
    "redis_command_duration_seconds",
    "Redis command latency by command (PIPELINE for a pipeline).",
    ("command",),
    buckets=LATENCY_BUCKETS,
)
REDIS_ERRORS = Counter(
    "redis_errors_total", "Redis commands that failed, by command and error.", ("command", "error")
)
IMPORT_JOBS = Counter(
    "import_jobs_total", "Import jobs by outcome (queued, completed, failed).", ("status",)
)
IMPORT_ROWS = Counter("import_rows_total", "Imported CSV rows by outcome.", ("outcome",))
DNC_CACHE = Counter(
    "dnc_cache_lookups_total",
    "DNC cache lookups by result (hit, miss, error); hit rate = hit / (hit + miss).",
    ("result",),
)
DNC_DRIFT = Counter(
    "dnc_reconcile_repairs_total",
    "Differences the DNC reconciler found and repaired (missing/extra cache members, "
    "contact flags); any non-zero rate is worth a look.",
    ("kind",),
)
RATE_LIMITED = Counter(
    "ratelimit_rejections_total", "Requests refused with 429, by limit scope.", ("scope",)
)
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "ratelimit_backend_errors_total", "Rate-limit checks that fell back to the local limiter."
)
EXPORT_ROWS = Counter("export_rows_total", "Contacts written to CSV exports.")

access_log = logging.getLogger("app.access")


# Labelled children by label values: `labels()` takes a lock and checks the values on
# every call; a request observes three to eight of them. Bounded: a flood of odd methods
# or routes falls back to `labels()` instead of growing this.
_CHILDREN: dict[tuple, object] = {}
_CHILDREN_MAX = 4096


def _child(metric, *values: str):
    key = (id(metric), *values)
    child = _CHILDREN.get(key)
    if child is None:
        child = metric.labels(*values)
        if len(_CHILDREN) < _CHILDREN_MAX:
            _CHILDREN[key] = child
    return child


# --- logging -------------------------------------------------------------------


class RequestContextFilter(logging.Filter):
    """Stamps every record made during a request with its request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """One stdout handler on the root logger: JSON lines in production, text when asked."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestContextFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler._contacts_handler = True  # replaced, not stacked, when a second app is made
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "_contacts_handler", False)]
    root.addHandler(handler)
    root.setLevel(level)
    # The client logs every request at INFO; our own logs and metrics say what matters.
    logging.getLogger("opensearch").setLevel(logging.WARNING)


# --- HTTP hooks ----------------------------------------------------------------


def _start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    started = g.get("request_started")
    if started is None or request.path in UNOBSERVED_PATHS:
        return response
    elapsed = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule else "unmatched"
    _child(HTTP_LATENCY, request.method, route, str(response.status_code)).observe(elapsed)
    if not access_log.isEnabledFor(logging.INFO):
        return response  # the line would be dropped: do not build it
    principal = g.get("principal")
    access_log.info(
        "%s %s %s",
        request.method,
        route,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
            "subject": principal.subject if principal else None,
            "remote_addr": request.remote_addr,
        },
    )
    return response


def metrics_view() -> Response:
    """Prometheus text format; aggregates every gunicorn worker in multiprocess mode."""
    expected = current_app.config["METRICS_TOKEN"]
    given = bearer_token() or ""
    if expected and not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(
            "/metrics needs the metrics bearer token.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
    config = app.config
    if config["METRICS_ENABLED"] and (config["METRICS_TOKEN"] or config["METRICS_PUBLIC"]):
        app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


# --- client instrumentation ------------------------------------------------------


def opensearch_operation(method: str, url: str) -> str:
    """A low-cardinality name for a call: `GET _doc`, `POST _search`, `POST _bulk`."""
    segments = [s for s in url.split("?", 1)[0].split("/") if s]
    endpoint = next((s for s in segments if s.startswith("_")), "index")
    return f"{method} {endpoint}"


def instrument_opensearch(client) -> None:
    transport = client.transport
    if getattr(transport, "_observed", False):
        return
    perform = transport.perform_request

    @functools.wraps(perform)
    def observed(method, url, *args, **kwargs):
        operation = opensearch_operation(method, url)
        started = time.perf_counter()
        try:
            return perform(method, url, *args, **kwargs)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            error = str(status) if isinstance(status, int) else exc.__class__.__name__
            OPENSEARCH_ERRORS.labels(operation, error).inc()
            raise
        finally:
            _child(OPENSEARCH_LATENCY, operation).observe(time.perf_counter() - started)

    transport.perform_request = observed
    transport._observed = True


def _observe_redis(command: str, call, *args, **kwargs):
    started = time.perf_counter()
    try:
        return call(*args, **kwargs)
    except Exception as exc:
        REDIS_ERRORS.labels(command, exc.__class__.__name__).inc()
        raise
    finally:
        _child(REDIS_LATENCY, command).observe(time.perf_counter() - started)


def instrument_redis(client) -> None:
    if getattr(client, "_observed", False):
        return
    execute_command = client.execute_command
    make_pipeline = client.pipeline

    def observed_command(*args, **options):
        command = str(args[0]).split(" ", 1)[0].upper() if args else "UNKNOWN"
        return _observe_redis(command, execute_command, *args, **options)

    def observed_pipeline(*args, **kwargs):
        pipeline = make_pipeline(*args, **kwargs)
        execute = pipeline.execute
        pipeline.execute = functools.partial(_observe_redis, "PIPELINE", execute)
        return pipeline

    client.execute_command = observed_command
    client.pipeline = observed_pipeline
    client._observed = True


# --- counters other modules increment ----------------------------------------------


def record_import_job(status: str) -> None:
    """An import job changed state: `queued`, `completed` or `failed`."""
    IMPORT_JOBS.labels(status).inc()


def record_import_rows(outcome: str, count: int = 1) -> None:
    """Rows of an import by outcome, e.g. `imported`, `rejected`, `duplicate`."""
    if count:
        IMPORT_ROWS.labels(outcome).inc(count)


def record_dnc_cache(hits: int = 0, misses: int = 0, errors: int = 0) -> None:
    """DNC cache lookups: the dialer's hit rate is hits / (hits + misses)."""
    for result, count in (("hit", hits), ("miss", misses), ("error", errors)):
        if count:
            DNC_CACHE.labels(result).inc(count)
