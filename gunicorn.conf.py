"""gunicorn settings for a small (2-core) host; every value can be overridden by env.

Graceful shutdown: on SIGTERM the master stops accepting connections and gives
in-flight requests `graceful_timeout` seconds to finish (a long CSV export may need
more: raise GRACEFUL_TIMEOUT); the orchestrator should stop routing to the instance
first (/readyz, or its own endpoint removal) so no new request arrives meanwhile.
"""

import multiprocessing
import os
import shutil
import tempfile

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# The API waits on OpenSearch and Redis most of the time: a few processes with threads
# use two cores well without a process per connection (cores + 1 processes x 8 threads).
workers = int(os.environ.get("WEB_WORKERS", min(4, multiprocessing.cpu_count() + 1)))
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
threads = int(os.environ.get("WEB_THREADS", "8"))
# gthread heartbeats from the main thread, so a long streamed export is not "stuck".
timeout = int(os.environ.get("WORKER_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
keepalive = 5  # behind a load balancer that keeps connections open
# Recycle workers now and then so slow leaks never reach the memory limit; the jitter
# keeps them from restarting all at once.
# Recycling workers costs a cold start (and a latency spike) each time; the service has
# no known leak, so it is off unless MAX_REQUESTS asks for it.
max_requests = int(os.environ.get("MAX_REQUESTS", "0"))
max_requests_jitter = 500
# Heartbeat files on tmpfs: a container's overlay disk can stall them under load.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Each worker builds its own OpenSearch and Redis clients after the fork.
preload_app = False
# The app writes one JSON line per request (with its request id); gunicorn's own
# access log would only repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Prometheus: every worker writes its samples to a shared folder and /metrics sums them.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"contacts-metrics-{os.getpid()}"),
)


def on_starting(server):
    # Samples of a previous run would be summed with this one's: start empty.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def post_worker_init(worker):
    """The app is built: what it holds lives as long as the worker (app/heap.py)."""
    from app.heap import freeze_startup_objects

    freeze_startup_objects()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
