"""Capacity inputs for docs/scaling.md: bytes per contact on disk, bulk docs/s, search rate.

    python -m bench.capacity [--contacts 100000] [--workspaces 100] [--searches 600]

On the engine of OPENSEARCH_HOSTS (the single node by default; the cluster with
`env $(python -m devtools.stack env --nodes 3 | sed 's/^export //') python -m ...`):

1. Generate `--contacts` devtools/fakedata.py contacts over `--workspaces` workspaces
   and turn them into the exact stored documents (ContactService.prepare_new and
   to_document: derived name fields, phone digits, folded keys).
2. Bulk them (routed by workspace, refresh off, 2,000 per request, like the importer)
   into an index made from index_mappings/contacts.json, and -- the raw-engine
   baseline -- into an index with no mapping at all (dynamic defaults), same docs.
   Both get the configured layout (shards, replicas, routing partition).
3. Refresh, force-merge to one segment (steady state after merges), read `_stats`:
   primary store bytes per document for both.
4. Search throughput on the service index: the app's query body for a name typed by a
   user (app/search/queries.py), routed to one workspace, from 4 threads; beside it a
   plain `match` on the first name, the raw engine's cheapest useful query.

Prints a table and writes bench-results/capacity.json; its indices (`capacity-*`) are
deleted at the end.
Figures come from a shared, noisy 2-core machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import random
import threading
import time

from opensearchpy import OpenSearch, helpers

from app.search import queries, readings
from app.search.documents import to_document
from app.search.indices import IndexNames, create_version, drop_all, load_definition
from app.services.contacts import ContactService
from bench.benchlib import engine, percentile, print_table, write_result
from devtools.fakedata import contacts

# Not under "bench-": other benchmarks drop `bench-*` when they start or end.
PREFIX = "capacity-"
CHUNK = 2000


def documents(count: int, workspaces: int) -> list[tuple[str, str, dict]]:
    """(id, workspace, stored document) for `count` generated contacts."""
    service = ContactService(None, PREFIX)  # prepare_new is pure: no client needed
    rows = []
    for n, row in enumerate(contacts(count, seed=count)):
        workspace = f"ws_cap{n % workspaces:05d}"
        contact = service.prepare_new({"workspaceId": workspace, **row})
        rows.append((contact["id"], workspace, to_document(contact)))
    return rows


def bulk_load(client: OpenSearch, index: str, docs: list[tuple[str, str, dict]]) -> float:
    """Seconds to bulk every document (routed) and refresh once."""
    actions = ({"_index": index, "_id": i, "_routing": ws, "_source": doc} for i, ws, doc in docs)
    started = time.perf_counter()
    loaded, errors = helpers.bulk(
        client, actions, chunk_size=CHUNK, request_timeout=300, raise_on_error=False
    )
    if errors:
        raise RuntimeError(f"{len(errors)} documents refused, e.g. {str(errors[0])[:300]}")
    client.indices.refresh(index=index, request_timeout=300)
    return time.perf_counter() - started


def store_bytes(client: OpenSearch, index: str) -> dict:
    client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=900)
    client.indices.refresh(index=index)
    stats = client.indices.stats(index=index, metric="docs,store")["_all"]["primaries"]
    docs, size = stats["docs"]["count"], stats["store"]["size_in_bytes"]
    return {"docs": docs, "store_bytes": size, "bytes_per_contact": round(size / docs, 1)}


def search_rate(client: OpenSearch, index: str, bodies: list[tuple[str, dict]]) -> dict:
    """Searches per second from 4 threads, and the engine's took p50/p99."""
    took, lock, position = [], threading.Lock(), iter(bodies)

    def run() -> None:
        while True:
            with lock:
                item = next(position, None)
            if item is None:
                return
            workspace, body = item
            result = client.search(index=index, routing=workspace, body=body)
            with lock:
                took.append(float(result["took"]))

    threads = [threading.Thread(target=run) for _ in range(4)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        "searches_per_s": round(len(took) / seconds, 1),
        "took_p50_ms": percentile(took, 50),
        "took_p99_ms": percentile(took, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--searches", type=int, default=600)
    args = parser.parse_args()

    client = engine()
    drop_all(client, PREFIX)
    nodes = client.cluster.health()["number_of_nodes"]
    print(f"generating {args.contacts:,} contacts over {args.workspaces} workspaces")
    docs = documents(args.contacts, args.workspaces)
    service_index = create_version(
        client, IndexNames(PREFIX, "contacts"), 1, overrides={"refresh_interval": "-1"}
    )
    # The baseline gets the same layout (shards, replicas, partition) as the service's.
    layout = load_definition("contacts")
    raw_index = f"{PREFIX}raw"
    client.indices.create(
        index=raw_index,
        body={
            "settings": {
                k: v
                for k, v in layout["settings"]["index"].items()
                if k in ("number_of_shards", "number_of_replicas", "routing_partition_size")
            },
            "mappings": {k: v for k, v in layout["mappings"].items() if k == "_routing"},
        },
    )
    rows = []
    try:
        for label, index in (("service mapping", service_index), ("raw dynamic", raw_index)):
            seconds = bulk_load(client, index, docs)
            rows.append(
                {
                    "index": label,
                    "load_s": round(seconds, 1),
                    "docs_per_s": round(len(docs) / seconds),
                    **store_bytes(client, index),
                }
            )
        rng = random.Random(7)
        names = [doc for _, _, doc in rng.sample(docs, args.searches)]
        typed = [
            (d["workspaceId"], f"{d.get('firstName', '')} {d.get('lastName', '')}".strip())
            for d in names
        ]
        service_bodies = [
            (ws, queries.build_search_body(ws, readings.parse_query(t), None, sort=None, size=21))
            for ws, t in typed
        ]
        plain_bodies = [
            (ws, {"size": 21, "query": {"match": {"firstName": t.split()[0] if t else "x"}}})
            for ws, t in typed
        ]
        searches = [
            {"query": "service name search", **search_rate(client, service_index, service_bodies)},
            {"query": "raw match firstName", **search_rate(client, service_index, plain_bodies)},
        ]
    finally:
        drop_all(client, PREFIX)
    print_table(rows, f"Storage and bulk rate ({args.contacts:,} contacts, {nodes} node(s))")
    print_table(searches, "Search rate, 4 threads, one workspace per search (routed)")
    ratio = rows[0]["bytes_per_contact"] / rows[1]["bytes_per_contact"]
    print(f"\nservice mapping / raw dynamic bytes per contact: {ratio:.2f}")
    write_result(
        "capacity",
        {
            "contacts": args.contacts,
            "workspaces": args.workspaces,
            "nodes": nodes,
            "rows": rows,
            "searches": searches,
            "bytes_ratio_service_over_raw": round(ratio, 2),
        },
    )


if __name__ == "__main__":
    main()
