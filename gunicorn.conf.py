"""gunicorn settings for a small (2-core) host; every value can be overridden by env."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# The API waits on OpenSearch and Redis most of the time: a few processes with threads
# use two cores well without a process per connection.
workers = int(os.environ.get("WEB_WORKERS", min(4, multiprocessing.cpu_count() + 1)))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = 60
graceful_timeout = 30  # in-flight requests finish on SIGTERM
keepalive = 5
accesslog = None
