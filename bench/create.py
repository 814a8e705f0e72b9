"""Create-contact throughput through the API against raw single-document index calls.

Both sides run at the same concurrency on the same documents in the same run, so the
ratio holds even when the machine's absolute speed drifts.

`--in-process N` instead runs N creates through the app in this process (Flask test
client, real servers, rate limits on) and prints the CPU and wall milliseconds per
create and the Redis and OpenSearch round trips each one makes: a fixed workload that
compares two trees (BENCH_API_ROOT does not apply; run it from each tree) within a few
percent on a busy machine, where rates do not.
"""

from __future__ import annotations

import argparse
import collections
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3

from app.cli.tokens import mint
from app.search.documents import to_document
from app.search.indices import IndexNames
from app.services.contact_rules import new_contact_id
from bench.benchlib import (
    BENCH_SCOPES,
    json_headers,
    print_table,
    running_api,
    scratch_indices,
    summarize,
    write_result,
)
from devtools.fakedata import contacts

# Per run: concurrent runs on one engine and Redis never share indices or feed sequences.
RUN = secrets.token_hex(3)
PREFIX = f"bench-create-{RUN}-"
REDIS_PREFIX = f"bench-create:{RUN}:"
WORKSPACE = "ws_benchcreate"


def timed_calls(count: int, concurrency: int, call) -> tuple[float, list[float]]:
    latencies: list[float] = []

    def one(i: int) -> None:
        started = time.perf_counter()
        call(i)
        latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started, latencies


def in_process(count: int) -> dict:
    """CPU and wall ms per create through the app in this process, and the round trips."""
    import redis.connection
    from opensearchpy.connection.http_urllib3 import Urllib3HttpConnection

    from app import create_app
    from app.config import Config
    from app.search.indices import drop_all, ensure_all

    settings = type(
        "InProcess",
        (Config,),
        {
            "INDEX_PREFIX": PREFIX,
            "REDIS_KEY_PREFIX": REDIS_PREFIX,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMITS": ",".join(f"{scope}=100000000/60" for scope in BENCH_SCOPES),
        },
    )
    app = create_app(settings)
    engine, store = app.extensions["opensearch"], app.extensions["redis"]
    client, headers = app.test_client(), json_headers(mint([WORKSPACE], ttl=3600))
    bodies = [json.dumps({"workspaceId": WORKSPACE, **c}) for c in contacts(40 + count, seed=7)]
    trips: collections.Counter = collections.Counter()
    send, perform = (
        redis.connection.AbstractConnection.send_packed_command,
        Urllib3HttpConnection.perform_request,
    )

    def counted_send(self, *args, **kwargs):  # one call per round trip (a pipeline: one)
        trips["redis"] += 1
        return send(self, *args, **kwargs)

    def counted_perform(self, *args, **kwargs):
        trips["opensearch"] += 1
        return perform(self, *args, **kwargs)

    ensure_all(engine, PREFIX)
    redis.connection.AbstractConnection.send_packed_command = counted_send
    Urllib3HttpConnection.perform_request = counted_perform
    try:
        for body in bodies[:40]:  # warm-up: connections, the feed's recovery, memos
            assert client.post("/v1/contacts", data=body, headers=headers).status_code == 201
        trips.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        for body in bodies[40:]:
            response = client.post("/v1/contacts", data=body, headers=headers)
            assert response.status_code == 201, response.data[:200]
        return {
            "creates": count,
            "cpu_ms_per_create": round((time.process_time() - cpu) * 1000 / count, 2),
            "wall_ms_per_create": round((time.perf_counter() - wall) * 1000 / count, 2),
            "redis_round_trips_per_create": round(trips["redis"] / count, 2),
            "opensearch_calls_per_create": round(trips["opensearch"] / count, 2),
        }
    finally:
        redis.connection.AbstractConnection.send_packed_command = send
        Urllib3HttpConnection.perform_request = perform
        drop_all(engine, PREFIX)
        for key in store.scan_iter(f"{REDIS_PREFIX}*", count=1000):
            store.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--in-process",
        type=int,
        metavar="N",
        help="no gunicorn: CPU and wall ms per create and round trips per create, N creates",
    )
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(args.in_process), indent=2))
        return

    bodies = [{"workspaceId": WORKSPACE, **c} for c in contacts(args.count, seed=7)]
    http = urllib3.PoolManager(maxsize=args.concurrency * 2)
    headers = json_headers(mint([WORKSPACE], ttl=3600))
    rows = []
    with scratch_indices(PREFIX) as client:
        with running_api(
            args.port, {"INDEX_PREFIX": PREFIX, "REDIS_KEY_PREFIX": REDIS_PREFIX}
        ) as base:
            for body in bodies[:50]:  # warm-up: connections, JIT of the mapping, caches
                http.request("POST", f"{base}/v1/contacts", body=json.dumps(body), headers=headers)

            def api_call(i: int) -> None:
                response = http.request(
                    "POST", f"{base}/v1/contacts", body=json.dumps(bodies[i]), headers=headers
                )
                assert response.status == 201, response.data[:200]

            elapsed, latencies = timed_calls(args.count, args.concurrency, api_call)
            rows.append(
                {
                    "path": "API POST /v1/contacts",
                    "docs": args.count,
                    "docs_per_s": round(args.count / elapsed),
                    **summarize(latencies),
                }
            )

        write_index = IndexNames(PREFIX, "contacts").write
        docs = [
            to_document(
                {
                    **b,
                    "id": new_contact_id(),
                    "tags": b["tags"],
                    "customFields": {},
                    "createdAt": "2026-01-01T00:00:00.000Z",
                    "updatedAt": "2026-01-01T00:00:00.000Z",
                }
            )
            for b in bodies
        ]

        def raw_call(i: int) -> None:
            client.index(
                index=write_index,
                id=docs[i]["id"],
                body=docs[i],
                routing=WORKSPACE,
                op_type="create",
            )

        elapsed, latencies = timed_calls(args.count, args.concurrency, raw_call)
        rows.append(
            {
                "path": "raw OpenSearch index",
                "docs": args.count,
                "docs_per_s": round(args.count / elapsed),
                **summarize(latencies),
            }
        )

    ratio = rows[0]["docs_per_s"] / rows[1]["docs_per_s"]
    print_table(rows, f"Create throughput, {args.concurrency} concurrent clients")
    print(f"API / raw throughput ratio: {ratio:.2f}")
    write_result(
        "create",
        {
            "title": "Create contact: API vs raw single-document index",
            "concurrency": args.concurrency,
            "rows": rows,
            "ratio": round(ratio, 2),
        },
    )


if __name__ == "__main__":
    main()
