"""Bounded load run of mixed traffic against a local API on loopback.

Mix: search 60 %, get 20 %, create 10 %, DNC check 10 %, for a fixed duration from a
fixed number of client threads. Prints throughput, p50 / p99 per kind and the error rate.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import defaultdict

import urllib3
from opensearchpy import OpenSearch, helpers

from app.cli.tokens import mint
from app.search.documents import to_document, utc_now
from app.search.indices import IndexNames
from app.services.contact_rules import new_contact_id
from bench.benchlib import (
    json_headers,
    print_table,
    running_api,
    scratch_indices,
    summarize,
    write_result,
)
from devtools.fakedata import contacts

PREFIX = "bench-load-"
WORKSPACE = "ws_loadtest"
MIX = [("search", 60), ("get", 20), ("create", 10), ("dnc_check", 10)]
QUERIES = [
    "joh",
    "smith",
    "jose garcia",
    "acme",
    "mueller",
    "415 555",
    "1234",
    "globex inc",
    "jenifer",
    "hernandez",
    "wayne",
    "lena",
]


def seed(client: OpenSearch, count: int) -> tuple[list[str], list[str]]:
    """Bulk-load `count` contacts straight into the index; their ids and phones."""
    now = utc_now()
    docs = []
    for row in contacts(count, seed=11):
        contact = {
            **row,
            "id": new_contact_id(),
            "workspaceId": WORKSPACE,
            "notes": None,
            "customFields": {},
            "createdAt": now,
            "updatedAt": now,
        }
        docs.append(to_document(contact))
    names = IndexNames(PREFIX, "contacts")
    actions = (
        {"_index": names.write, "_id": d["id"], "_routing": WORKSPACE, "_source": d} for d in docs
    )
    helpers.bulk(client, actions, chunk_size=2000, request_timeout=120)
    client.indices.refresh(index=names.read)
    return [d["id"] for d in docs], [d["phone"] for d in docs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=8013)
    args = parser.parse_args()

    headers = json_headers(mint([WORKSPACE], ttl=3600))
    http = urllib3.PoolManager(maxsize=args.clients * 2, timeout=10.0, retries=False)
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    kinds = [k for k, weight in MIX for _ in range(weight)]

    with scratch_indices(PREFIX) as client:
        ids, phones = seed(client, args.contacts)
        with running_api(
            args.port,
            {"INDEX_PREFIX": PREFIX, "REDIS_KEY_PREFIX": PREFIX},
        ) as base:
            # Put a slice of the numbers on the DNC list so checks see both answers.
            for phone in phones[:200]:
                http.request(
                    "POST",
                    f"{base}/v1/dnc",
                    headers=headers,
                    body=json.dumps(
                        {"workspaceId": WORKSPACE, "phone": phone, "reason": "load test"}
                    ),
                )

            def request(kind: str, rng: random.Random):
                if kind == "search":
                    body = {"workspaceId": WORKSPACE, "query": rng.choice(QUERIES), "limit": 10}
                    return http.request(
                        "POST", f"{base}/v1/contacts/search", headers=headers, body=json.dumps(body)
                    )
                if kind == "get":
                    return http.request(
                        "GET", f"{base}/v1/contacts/{rng.choice(ids)}", headers=headers
                    )
                if kind == "create":
                    row = next(contacts(1, seed=rng.randint(0, 10**9)))
                    return http.request(
                        "POST",
                        f"{base}/v1/contacts",
                        headers=headers,
                        body=json.dumps({"workspaceId": WORKSPACE, **row}),
                    )
                phone = rng.choice(phones).replace("+", "%2B")
                return http.request(
                    "GET",
                    f"{base}/v1/dnc/check?workspaceId={WORKSPACE}&phone={phone}",
                    headers=headers,
                )

            deadline = time.time() + args.duration

            def worker(number: int) -> None:
                rng = random.Random(number)
                while time.time() < deadline:
                    kind = rng.choice(kinds)
                    started = time.perf_counter()
                    try:
                        status = request(kind, rng).status
                    except urllib3.exceptions.HTTPError:
                        status = 0
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        samples[kind].append(elapsed)
                        if not 200 <= status < 300:
                            errors[kind] += 1

            started = time.time()
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=args.duration + 60)
            wall = time.time() - started

    rows = []
    for kind, _ in MIX:
        stats = summarize(samples[kind])
        rows.append(
            {
                "kind": kind,
                "requests": stats["n"],
                "rps": round(stats["n"] / wall, 1),
                "p50_ms": stats["p50_ms"],
                "p99_ms": stats["p99_ms"],
                "errors": errors[kind],
            }
        )
    total = sum(len(v) for v in samples.values())
    failed = sum(errors.values())
    rows.append(
        {
            "kind": "all",
            "requests": total,
            "rps": round(total / wall, 1),
            "p50_ms": summarize([x for v in samples.values() for x in v])["p50_ms"],
            "p99_ms": summarize([x for v in samples.values() for x in v])["p99_ms"],
            "errors": failed,
        }
    )
    print_table(rows, f"Mixed load, {args.clients} clients, {wall:.0f} s, {args.contacts} contacts")
    print(f"error rate: {failed / max(total, 1):.4%}")
    write_result(
        "load",
        {
            "title": "Mixed load run (search 60 %, get 20 %, create 10 %, DNC check 10 %)",
            "clients": args.clients,
            "duration_s": round(wall, 1),
            "contacts": args.contacts,
            "rows": rows,
            "error_rate": round(failed / max(total, 1), 6),
        },
    )


if __name__ == "__main__":
    main()
