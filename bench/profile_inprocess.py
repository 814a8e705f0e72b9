"""A search request's CPU in one process, without gunicorn: per request (fixed workload,
`time`-free: rusage), by library group under cProfile, and by request stage from sampled
stacks (py-spy), so the stages of the pipeline can be read side by side.

python -m bench.profile --in-process 300 [--cprofile]
py-spy record --gil --format raw --nolineno -r 250 -o bench-results/profile-inprocess.txt \
    -- python -m bench.profile --in-process 1500 --search-only
python -m bench.profile --stages bench-results/profile-inprocess.txt \
    bench-results/profile-search1.txt bench-results/profile-search8.txt

cProfile charges each Python call a fixed overhead, so it inflates call-heavy code (a
hook of ten one-microsecond calls looks like a millisecond): read its shares as a map,
and take sizes from the sampled stages or from timing a piece alone.
"""

from __future__ import annotations

import collections
import cProfile
import json
import pstats
import resource
import secrets
import time
from pathlib import Path

from opensearchpy import helpers

from app.cli.tokens import mint
from app.config import Config
from app.search.documents import to_document
from app.search.indices import drop_all, ensure_all
from app.services.contact_rules import new_contact_id
from bench.benchlib import BENCH_SCOPES, json_headers
from bench.profile import _group, _short
from devtools.fakedata import contacts

# A sample is charged to the first stage whose frame it holds, in this order (the engine
# call before the service that makes it; the test client's own frames only outside Flask).
STAGES = (
    ("engine call (opensearch-py, urllib3, http.client, JSON)", "SearchService._run"),
    ("DNC flags of the page (Redis script)", "SearchService.annotate"),
    ("highlights", "highlights (app/search/highlights.py)"),
    ("query building", "build_search_body"),
    ("query reading", "parse_query"),
    ("documents -> contacts", "from_source"),
    ("cursor fingerprint and encoding", "app/search/cursors.py"),
    ("response: dump + JSON", "dumped (app/api/responses.py)"),
    ("rate limit (Redis script)", "check_rate_limit"),
    ("rate-limit headers", "add_rate_limit_headers"),
    ("request id, metrics, access log", "_start_request"),
    ("request id, metrics, access log", "_finish_request"),
    ("JSON content-type check", "require_json_body"),
    ("CORS", "flask_cors"),
    ("auth (token, scope)", "authenticate"),
    ("body parse (webargs, marshmallow)", "webargs/"),
    ("rest of SearchService.search", "SearchService.search"),
    ("view wrappers (auth, smorest)", "app/auth.py"),
    ("Flask/werkzeug (context, routing, response)", "flask/"),
    ("gunicorn (HTTP parse, gthread dispatch, write)", "gunicorn/"),
)
STAMP = "2024-01-01T00:00:00.000Z"
TEST_CLIENT = "werkzeug test client (in-process only)"


def stages(path: Path) -> dict:
    """Share of a search's sampled CPU per request stage (py-spy raw stacks of requests)."""
    counts: collections.Counter = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not (stack and count.isdigit()) or "wsgi" not in stack and "gunicorn/" not in stack:
            continue  # start-up, data loading, idle
        if "werkzeug/test.py" in stack and "Flask.wsgi_app" not in stack:
            counts[TEST_CLIENT] += int(count)  # building the request, reading the reply
            continue
        counts[next((name for name, mark in STAGES if mark in stack), "other")] += int(count)
    total = sum(counts.values()) or 1
    return {
        "samples": total,
        "stages_pct": {k: round(100 * v / total, 1) for k, v in counts.most_common()},
    }


def cpu_profile(workload, top: int = 25) -> dict:
    """`workload` under cProfile on the process's CPU clock: each function's own time
    charged to its library group (GROUPS), and the app's frames by inclusive time.
    The profiler inflates call-heavy code, so read the shares, not the times."""
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(workload)
    stats = pstats.Stats(profiler).stats
    total = sum(entry[2] for entry in stats.values()) or 1.0
    groups: collections.Counter = collections.Counter()
    inclusive: dict[str, float] = {}
    for (path, line, function), (_, _, own, cumulative, callers) in stats.items():
        group = _group([f"{function} ({path})" if path != "~" else f"x ({function})"])
        if group == "other" and path == "~" and callers:
            # A builtin (dict.get, isinstance, ...) is charged to its callers' groups.
            spent = sum(c[2] for c in callers.values()) or 1.0
            for (caller_path, _, caller), c in callers.items():
                groups[_group([f"{caller} ({caller_path})"])] += own * c[2] / spent
            continue
        if group == "other" and "/python3.11/" in path and "site-packages" not in path:
            group = "stdlib (other)"
        groups[group] += own
        if "/app/" in path:
            short = _short(f"{function} ({path}:{line})")
            inclusive[short] = max(inclusive.get(short, 0.0), cumulative)
    pct = lambda n: round(100 * n / total, 1)  # noqa: E731
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return {
        "groups_pct": {k: pct(v) for k, v in groups.most_common()},
        "top_app_inclusive_pct": {k: pct(v) for k, v in ranked},
    }


def in_process(requests: int, cprofile: bool = False, search_only: bool = False) -> dict:
    """CPU and wall milliseconds per request of search and create through the Flask app in
    this process (no gunicorn, no py-spy): a fixed workload, so two trees or two settings
    compare within a few percent even on a busy machine, where rates do not."""
    from app import create_app
    from bench import search as bench_search

    run = secrets.token_hex(3)
    settings = type(
        "InProcess",
        (Config,),
        {
            "INDEX_PREFIX": f"bench-inproc-{run}-",
            "REDIS_KEY_PREFIX": f"bench-inproc:{run}:",
            "LOG_LEVEL": "WARNING",
            # On (their Redis call is part of each request), never refusing this workload.
            "RATE_LIMITS": ",".join(f"{scope}=100000000/60" for scope in BENCH_SCOPES),
        },
    )
    app = create_app(settings)
    engine, store = app.extensions["opensearch"], app.extensions["redis"]
    workspace = "ws_inprocess"
    headers = json_headers(mint([workspace], ttl=3600))
    client = app.test_client()
    rows = [{"workspaceId": workspace, **c} for c in contacts(420 + requests, seed=5)]
    ensure_all(engine, settings.INDEX_PREFIX)
    try:
        # Stored straight into the engine (as bench.search loads), so that a profile of
        # this process holds search requests only.
        stored = [
            {"id": new_contact_id(), **row, "createdAt": STAMP, "updatedAt": STAMP}
            for row in rows[:400]
        ]
        helpers.bulk(
            engine,
            (
                {
                    "_index": f"{settings.INDEX_PREFIX}contacts",
                    "_id": c["id"],
                    "_routing": workspace,
                    "_source": to_document(c),
                }
                for c in stored
            ),
            refresh=True,
        )
        queries = bench_search.query_mix(rows[:400], requests, seed=4)
        queries = [{k: v for k, v in q.items() if not k.startswith("_")} for q in queries]
        result = {}
        for name, path, warm, bodies, status in (
            ("search", "/v1/contacts/search", queries[:20], queries, 200),
            ("create", "/v1/contacts", rows[400:420], rows[420:], 201),
        ):
            if search_only and name != "search":
                continue
            for body in warm:  # memos, connections
                client.post(path, data=json.dumps(body), headers=headers)
            texts = [json.dumps(body) for body in bodies]
            wall, usage = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)

            def send(texts=texts, path=path, status=status) -> None:
                for text in texts:
                    response = client.post(path, data=text, headers=headers)
                    assert response.status_code == status, response.data[:200]

            send()
            after = resource.getrusage(resource.RUSAGE_SELF)
            per = 1000 / len(bodies)
            user, system = after.ru_utime - usage.ru_utime, after.ru_stime - usage.ru_stime
            result[name] = {
                "requests": len(bodies),
                "cpu_ms_per_request": round((user + system) * per, 2),
                "user_ms_per_request": round(user * per, 2),
                "system_ms_per_request": round(system * per, 2),
                "wall_ms_per_request": round((time.perf_counter() - wall) * per, 2),
            }
            if cprofile and name == "search":
                result[name]["cprofile"] = cpu_profile(send)
        return result
    finally:
        drop_all(engine, settings.INDEX_PREFIX)
        for key in store.scan_iter(f"{settings.REDIS_KEY_PREFIX}*", count=1000):
            store.delete(key)
