"""`contacts serve` (the API under gunicorn, with the worker beside it) and `contacts worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click

from app import worker as background_worker

# The WSGI application, built by its factory in each gunicorn worker (preload is off).
APP_SPEC = "app:create_app()"


@click.command()
@click.option(
    "--host",
    envvar="HOST",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind (HOST).",
)
@click.option(
    "--port", envvar="PORT", default="8000", show_default=True, help="Port to bind (PORT)."
)
@click.option(
    "--gunicorn-config",
    default="gunicorn.conf.py",
    show_default=True,
    type=click.Path(exists=True, dir_okay=False),
    help="gunicorn settings (workers, threads, timeouts, metrics folder).",
)
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=True,
    show_default=True,
    help="Also run the background worker (imports, recovery, DNC reconciler).",
)
def serve(host: str, port: str, gunicorn_config: str, with_worker: bool) -> None:
    """Serve the API (gunicorn) and the background worker.

    SIGTERM or Ctrl-C stops both: gunicorn finishes in-flight requests, the worker its
    job. With --no-worker gunicorn replaces this process (it receives signals itself,
    e.g. as a container's PID 1) and the worker runs elsewhere (`contacts worker`).
    """
    env = dict(os.environ, HOST=host, PORT=str(port))
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", gunicorn_config, APP_SPEC]
    click.echo(f"[api] http://{host}:{port}  (docs at /docs, spec at /openapi.json)")
    if not with_worker:
        os.execve(sys.executable, gunicorn, env)
    children = [subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)]
    children.append(subprocess.Popen(gunicorn, env=env))

    def stop(signum, frame) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Serve until gunicorn exits (signal or crash), then make sure the worker stops too.
    status = children[1].wait()
    stop(signal.SIGTERM, None)
    for child in children:
        child.wait(timeout=60)
    sys.exit(128 - status if status < 0 else status)  # killed by a signal: 128 + its number


@click.command()
def worker() -> None:
    """Run the background worker (imports, DNC reconciler).

    Runs queued imports (rq), re-queues imports whose run died, sweeps expired import
    files, and reconciles the DNC caches every DNC_RECONCILE_SECONDS. Stops after its
    current job on SIGTERM."""
    background_worker.main()


commands = (serve, worker)
