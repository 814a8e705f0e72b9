"""Sample the running API with py-spy under a bounded benchmark load, one hot path at a time.

python -m bench.profile [--paths search1 search8 create dnc import] [--seconds 20]
python -m bench.profile --in-process 300   (CPU per request, no gunicorn, no sampling)
python -m bench.profile --in-process 300 --cprofile   (+ search's CPU by layer, cProfile)
python -m bench.profile --stages bench-results/profile-search1.txt   (CPU by request stage)

Each path starts gunicorn (gunicorn.conf.py, 2 workers) on a free 127.0.0.1 port, drives
it for `--seconds` with the same requests as its benchmark, and meanwhile runs
`py-spy record --subprocesses` on the gunicorn master. The import is profiled in the
process that runs it (the worker's code path, as `bench.imports` runs it). Idle threads
(waiting on a socket) are not sampled, so the shares below are shares of Python CPU.

Writes bench-results/profile-<path>.txt (raw collapsed stacks) and prints, per path,
the share of samples spent under each library group and the top frames.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
import urllib3

from app.cli.tokens import mint
from app.config import Config
from app.search.indices import drop_all, ensure_all
from bench.benchlib import (
    RESULTS,
    ROOT,
    api_process,
    free_port,
    json_headers,
    scratch_indices,
)
from devtools.fakedata import contacts

# Groups a sample is charged to: the group of its deepest frame that belongs to one (so a
# JSON encode inside a marshmallow dump is charged to JSON, and the view wrappers of
# app/auth.py do not swallow everything below them). Samples in no group are "other".
GROUPS = {
    "json (stdlib)": ("json/encoder", "json/decoder", "json/__init__"),
    "orjson": ("orjson",),
    "marshmallow/webargs/smorest": ("marshmallow/", "webargs/", "flask_smorest/"),
    "opensearch-py (+urllib3)": ("opensearchpy/", "urllib3/"),
    "redis-py": ("redis/",),
    "flask/werkzeug": ("flask/", "werkzeug/"),
    "gunicorn": ("gunicorn/",),
    "logging": ("logging/", "pythonjsonlogger/"),
    "prometheus_client": ("prometheus_client/",),
    "jwt": ("jwt/",),
    "phonenumbers": ("phonenumbers/",),
    "app/search (queries, highlights)": ("app/search/",),
    "app/services": ("app/services/",),
    "app/imports": ("app/imports/",),
    "app/dnc": ("app/dnc/",),
    "http.client/email (stdlib)": ("http/client", "email/"),
    "sockets (send, recv: kernel)": ("_socket.socket",),
    "app/api, app/schemas": ("app/api/", "app/schemas/"),
    "app hooks (auth, ratelimit, observability, jsonio)": (
        "app/auth",
        "app/ratelimit",
        "app/observability",
        "app/jsonio",
        "app/__init__",
    ),
}


# Only samples of threads holding the GIL: Python CPU. Without it, threads blocked on a
# socket or waiting for the GIL are sampled too (a wall-clock view); --wall turns it off.
GIL_ONLY = True


def profile(pid_or_cmd, out: Path, seconds: float | None, env=None) -> subprocess.Popen:
    """py-spy record in raw (collapsed) form; a pid is sampled for `seconds`."""
    spy = str(Path(sys.executable).parent / "py-spy")
    base = [spy, "record", "--format", "raw", "--nolineno", "-r", "200", "-o", str(out)]
    if GIL_ONLY:
        base.append("--gil")
    if isinstance(pid_or_cmd, int):
        cmd = [*base, "--subprocesses", "--nonblocking", "-p", str(pid_or_cmd)]
        cmd += ["-d", str(int(seconds))]
    else:
        cmd = [*base, "--", *pid_or_cmd]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def summarize(path: Path, top: int = 15) -> dict:
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(c for _, c in stacks) or 1
    groups: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    for frames, count in stacks:
        # py-spy puts a process/thread frame first; "func (file)" after.
        groups[_group(frames)] += count
        leaves[_short(frames[-1])] += count
        for frame in set(frames):
            if "app/" in frame or "wsgi" in frame:
                inclusive[_short(frame)] += count
    pct = lambda n: round(100 * n / total, 1)  # noqa: E731
    return {
        "samples": total,
        "groups_pct": {k: pct(v) for k, v in groups.most_common()},
        "top_self_pct": {k: pct(v) for k, v in leaves.most_common(top)},
        "top_app_inclusive_pct": {k: pct(v) for k, v in inclusive.most_common(top)},
    }


def _group(frames: list[str]) -> str:
    for frame in reversed(frames):
        where = frame.partition(" (")[2]
        for name, marks in GROUPS.items():
            if any(m in where for m in marks):
                return name
    return "other"


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def drive(seconds: float, clients: int, call) -> int:
    """`clients` threads calling `call(i)` until the time is up; returns calls made."""
    stop = time.monotonic() + seconds
    done = [0]
    lock = threading.Lock()

    def loop(n: int) -> None:
        i = n
        while time.monotonic() < stop:
            call(i)
            i += clients
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0]


def under_load(name: str, env: dict, clients: int, seconds: float, setup, call) -> dict:
    """Start the API, warm it, sample it while `clients` threads drive `call`."""
    out = RESULTS / f"profile-{name}.txt"
    port = free_port()
    with api_process(port, env) as (base, process):
        state = setup(base)
        drive(3, clients, lambda i: call(base, state, i))  # warm-up
        spy = profile(process.pid, out, seconds)
        calls = drive(seconds, clients, lambda i: call(base, state, i))
        spy.wait(timeout=120)
    result = summarize(out)
    result["requests_per_s"] = round(calls / seconds, 1)
    return result


def search_path(clients: int, seconds: float) -> dict:
    from bench import search as bench_search

    client = bench_search.engine(pool_size=32)
    _, sample = bench_search.load(client, 10_000, 2)
    try:
        http = urllib3.PoolManager(maxsize=clients * 2)
        headers = json_headers(mint([bench_search.ONE, *bench_search.MANY], ttl=3600))
        pool = [c for c in sample if c["workspaceId"] == bench_search.ONE]
        bodies = bench_search.query_mix(pool, 2000)

        def call(base, _state, i):
            body = {k: v for k, v in bodies[i % len(bodies)].items() if not k.startswith("_")}
            r = http.request(
                "POST", f"{base}/v1/contacts/search", body=json.dumps(body), headers=headers
            )
            assert r.status == 200, r.data[:200]

        env = {"INDEX_PREFIX": bench_search.PREFIX, "REDIS_KEY_PREFIX": bench_search.REDIS_PREFIX}
        return under_load(f"search{clients}", env, clients, seconds, lambda b: None, call)
    finally:
        drop_all(client, bench_search.PREFIX)


def create_path(seconds: float) -> dict:
    run = secrets.token_hex(3)
    prefix, workspace = f"bench-profile-create-{run}-", "ws_profilecreate"
    bodies = [{"workspaceId": workspace, **c} for c in contacts(20_000, seed=9)]
    http = urllib3.PoolManager(maxsize=16)
    headers = json_headers(mint([workspace], ttl=3600))

    def call(base, _state, i):
        r = http.request(
            "POST", f"{base}/v1/contacts", body=json.dumps(bodies[i % len(bodies)]), headers=headers
        )
        assert r.status == 201, r.data[:200]

    with scratch_indices(prefix):
        env = {"INDEX_PREFIX": prefix, "REDIS_KEY_PREFIX": f"bench-profile-create:{run}:"}
        return under_load("create", env, 8, seconds, lambda b: None, call)


def dnc_path(seconds: float) -> dict:
    prefix, workspace = "bench-profile-dnc-", "ws_profilednc"
    key_prefix = f"bench-profile:{secrets.token_hex(3)}:"
    http = urllib3.PoolManager(maxsize=4)
    headers = json_headers(mint([workspace], "dnc:read dnc:write", ttl=3600))
    counter = iter(range(10**9))

    def fresh_batch() -> list[str]:
        # NANP numbers in E.164 (NPA and NXX 200-999), never sent before: no memo hit.
        start = next(counter) * 1000
        return [f"+1{_nanp(start + j)}" for j in range(1000)]

    def setup(base):
        for n in range(20):  # a few listed numbers, so the cache exists and is trusted
            r = http.request(
                "POST",
                f"{base}/v1/dnc",
                body=json.dumps({"workspaceId": workspace, "phone": f"+1415555{n:04d}"}),
                headers=headers,
            )
            assert r.status in (200, 201), r.data[:200]

    def call(base, _state, i):
        body = {"workspaceId": workspace, "phones": fresh_batch()}
        r = http.request("POST", f"{base}/v1/dnc/check", body=json.dumps(body), headers=headers)
        assert r.status == 200, r.data[:200]

    env = {"INDEX_PREFIX": prefix, "REDIS_KEY_PREFIX": key_prefix}
    try:
        with scratch_indices(prefix):
            return under_load("dnc", env, 1, seconds, setup, call)
    finally:
        client = redis.Redis.from_url(Config.REDIS_URL)
        for key in client.scan_iter(f"{key_prefix}*", count=1000):
            client.delete(key)


def _nanp(n: int) -> str:
    line, n = n % 10_000, n // 10_000
    exchange, area = 200 + n % 800, 200 + (n // 800) % 800
    return f"{area}{exchange}{line:04d}"


def import_path(rows: int) -> dict:
    from bench import imports as bench_imports

    run = secrets.token_hex(3)
    prefix = f"bench-profile-import-{run}-"
    out = RESULTS / "profile-import.txt"
    client = bench_imports.engine()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        csv_path = Path(tmp) / "contacts.csv"
        bench_imports.write_csv(csv_path, rows)
        env = dict(
            os.environ,
            INDEX_PREFIX=prefix,
            REDIS_KEY_PREFIX=f"bench:{run}:",
            IMPORT_DIR=str(Path(tmp) / "imports"),
        )
        ensure_all(client, prefix)
        try:
            cmd = [sys.executable, "-m", "bench.imports", "--child-import", str(csv_path)]
            spy = profile(cmd, out, None, env=env)
            stdout, stderr = spy.communicate(timeout=1200)
            if spy.returncode:
                raise RuntimeError(stderr.decode()[-2000:])
            line = [x for x in stdout.decode().splitlines() if x.startswith("{")][-1]
            timing = json.loads(line)
        finally:
            drop_all(client, prefix)
    result = summarize(out)
    result["rows_per_s"] = round(rows / timing["seconds"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--paths", nargs="+", default=["search1", "search8", "create", "dnc", "import"]
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--wall", action="store_true", help="also sample threads off the GIL")
    parser.add_argument("--summarize", action="store_true", help="only re-read the raw files")
    parser.add_argument(
        "--in-process",
        type=int,
        metavar="REQUESTS",
        help="no profiler: CPU ms per search and create request through the app in-process",
    )
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="with --in-process: search's CPU by layer under cProfile (after the timing)",
    )
    parser.add_argument("--search-only", action="store_true", help="with --in-process")
    parser.add_argument(
        "--stages",
        nargs="+",
        metavar="RAW_FILE",
        help="a search's CPU by request stage, from py-spy raw files (bench-results/profile-*)",
    )
    args = parser.parse_args()
    if args.in_process:
        from bench.profile_inprocess import in_process

        print(json.dumps(in_process(args.in_process, args.cprofile, args.search_only), indent=2))
        return
    RESULTS.mkdir(exist_ok=True)
    global GIL_ONLY
    GIL_ONLY = not args.wall
    if args.stages:
        from bench.profile_inprocess import stages

        for path in args.stages:
            print(path, json.dumps(stages(Path(path)), indent=2))
        return
    if args.summarize:
        for name in args.paths:
            print(name, json.dumps(summarize(RESULTS / f"profile-{name}.txt"), indent=2))
        return
    results = {}
    for name in args.paths:
        print(f"=== profiling {name}", flush=True)
        if name.startswith("search"):
            results[name] = search_path(int(name[6:]), args.seconds)
        elif name == "create":
            results[name] = create_path(args.seconds)
        elif name == "dnc":
            results[name] = dnc_path(args.seconds)
        elif name == "import":
            results[name] = import_path(args.import_rows)
        print(json.dumps(results[name], indent=2), flush=True)
        (RESULTS / f"profile-{name}.json").write_text(json.dumps(results[name], indent=2))


if __name__ == "__main__":
    main()
