"""Shared pieces of the benchmarks: the engine client of the baselines, a local API under
gunicorn, search requests sent both ways, latency stats, result files."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import urllib3
from opensearchpy import OpenSearch
from redis import Redis

from app.config import Config
from app.search import queries, readings
from app.search.indices import drop_all, ensure_all

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


def engine(pool_size: int = 10) -> OpenSearch:
    """A plain client of the configured engine, for the raw baselines and for loading data.

    Deliberately not the app's client (app.wiring.opensearch_client): a baseline measures
    the engine alone, without the metrics wrapper and the reindex-freeze retry the API
    pays for. Long timeout: bulk loads of a million documents."""
    return OpenSearch(hosts=Config.OPENSEARCH_HOSTS, timeout=120, pool_maxsize=pool_size)


@contextmanager
def scratch_indices(prefix: str, pool_size: int = 10) -> Iterator[OpenSearch]:
    """A plain engine client and fresh indices under `prefix`, all dropped on exit (what an
    interrupted earlier run left behind is dropped first)."""
    client = engine(pool_size)
    drop_all(client, prefix)
    ensure_all(client, prefix)
    try:
        yield client
    finally:
        drop_all(client, prefix)


def json_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def api_search(
    http: urllib3.PoolManager, base_url: str, headers: dict, body: dict
) -> tuple[float, bytes]:
    """POST a search body to the API: (milliseconds, response body). Keys starting with
    `_` are the benchmark's own notes and are not sent. The reply is decoded, as a caller
    would, so both sides of a comparison pay the same client work (see engine_search)."""
    payload = {k: v for k, v in body.items() if not k.startswith("_")}
    started = time.perf_counter()
    response = http.request(
        "POST", f"{base_url}/v1/contacts/search", body=json.dumps(payload), headers=headers
    )
    json.loads(response.data)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {response.data[:300]!r}")
    return elapsed, response.data


ENGINE_HEADERS = {"Content-Type": "application/json"}


def engine_search(
    client: OpenSearch | urllib3.PoolManager,
    index: str,
    body: dict,
    broadened: list | None = None,
) -> tuple[float, float]:
    """The engine work the API does for a search body, straight to the engine: (wall
    milliseconds, the engine's own `took`, summed over the passes).

    The same passes as SearchService.search: the strict body, then, when the API would
    (`queries.should_broaden`: words typed and too few strict hits), the broadened body.
    Both bodies are built before the clock starts (building them is the API's work, not
    the engine's). `client` is a urllib3 pool for the side-by-side comparison (the same
    library, pool and JSON as `api_search`, kept alive alike) or an OpenSearch client.
    A body that took the second pass is appended to `broadened`."""
    workspace = body["workspaceId"]
    parsed = readings.parse_query(body.get("query"))
    strict = queries.build_search_body(
        workspace, parsed, body.get("filters"), sort=body.get("sort"), size=body["limit"] + 1
    )
    broad = queries.broaden_body(strict, parsed) if parsed.words else None
    started = time.perf_counter()
    result = _engine_call(client, index, workspace, strict)
    took = float(result["took"])
    if queries.should_broaden(parsed, result["hits"]["total"]["value"]):
        result = _engine_call(client, index, workspace, broad)
        took += float(result["took"])
        if broadened is not None:
            broadened.append(body)
    return (time.perf_counter() - started) * 1000, took


def _engine_call(client, index: str, routing: str, search: dict) -> dict:
    if isinstance(client, OpenSearch):
        return client.search(index=index, routing=routing, body=search)
    response = client.request(
        "POST",
        f"{Config.OPENSEARCH_HOSTS[0].rstrip('/')}/{index}/_search?routing={routing}",
        body=json.dumps(search),
        headers=ENGINE_HEADERS,
    )
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {response.data[:300]!r}")
    return json.loads(response.data)


class CpuMeter:
    """CPU seconds spent by each side of a comparison: the API's gunicorn processes, the
    engine's and Redis' server processes (found by the pids they report) and this process
    (the load generator). On two cores, CPU per query is what bounds throughput, and
    it moves far less than rates on a shared machine (the engine's and Redis' figures
    include whatever else uses them meanwhile)."""

    def __init__(self, client: OpenSearch, api_pid: int) -> None:
        nodes = client.nodes.info(node_id="_local", metric="process")["nodes"]
        self.pids = {
            "api": api_pid,
            "engine": next(iter(nodes.values()))["process"]["id"],
            "redis": redis_pid(),
        }

    def read(self) -> dict[str, float]:
        from bench.batch import process_cpu  # bench.batch imports this module

        usage = resource.getrusage(resource.RUSAGE_SELF)
        seconds = {name: process_cpu(pid) for name, pid in self.pids.items() if pid}
        return {**seconds, "client": usage.ru_utime + usage.ru_stime}


def redis_pid() -> int | None:
    try:
        return int(Redis.from_url(Config.REDIS_URL).info("server")["process_id"])
    except Exception:  # no Redis figure rather than no benchmark
        return None


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_api(port: int, env: dict[str, str], workers: int = 2):
    """gunicorn serving the app on 127.0.0.1:port with `env`; stopped on exit."""
    with api_process(port, env, workers) as (base_url, _process):
        yield base_url


@contextmanager
def api_process(port: int, env: dict[str, str], workers: int = 2):
    """gunicorn serving the app on 127.0.0.1:port with `env`: (base URL, master process).

    gunicorn puts its working directory (the repository root) on the import path, which
    is how it finds `wsgi:app`."""
    # Limits stay on (their Redis call is part of every request's cost) but high enough
    # that one benchmark token is never refused; a caller may still turn them off.
    high = ",".join(f"{scope}=100000000/60" for scope in BENCH_SCOPES)
    full_env = {
        **os.environ,
        "PORT": str(port),
        "WEB_WORKERS": str(workers),
        "RATE_LIMITS": high,
        "LOG_LEVEL": "WARNING",
        **env,
    }
    # BENCH_API_ROOT serves another checkout (e.g. a git worktree of an older commit) for
    # a before/after comparison in one run; its `app` comes first on the import path.
    root = Path(os.environ.get("BENCH_API_ROOT") or ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), "wsgi:app"],
        env=full_env,
        cwd=root,
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
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
