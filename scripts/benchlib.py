"""Shared pieces of the benchmarks: a local API under gunicorn, latency stats, result files."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
BENCH_SCOPES = (
    "default",
    "contacts:read",
    "contacts:write",
    "contacts:export",
    "contacts:import",
    "dnc:read",
    "dnc:write",
    "anonymous",
)


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarize(samples_ms: list[float]) -> dict:
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 2),
        "p95_ms": round(percentile(samples_ms, 95), 2),
        "p99_ms": round(percentile(samples_ms, 99), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2) if samples_ms else None,
    }


def print_table(rows: list[dict], title: str = "") -> None:
    if title:
        print(f"\n{title}")
    if not rows:
        return
    columns = list(rows[0])
    widths = [max(len(str(c)), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True)))


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    return path


@contextmanager
def running_api(port: int, env: dict[str, str], workers: int = 2):
    """gunicorn serving the app on 127.0.0.1:port with `env`; stopped on exit."""
    # Limits stay on (their Redis call is part of every request's cost) but high enough
    # that one benchmark token is never refused; a caller may still turn them off.
    high = ",".join(f"{scope}=100000000/60" for scope in BENCH_SCOPES)
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PORT": str(port),
        "WEB_WORKERS": str(workers),
        "RATE_LIMITS": high,
        "LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        env=full_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the API did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
