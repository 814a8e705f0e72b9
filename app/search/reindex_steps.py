"""The reindex's steps: each one job against OpenSearch, composed by app/search/reindex.py.

Contract. Each function does one step of the pipeline and states what it guarantees:
read each primary shard's local checkpoint (`local_checkpoints`) and wait for admitted
writes to be applied (`wait_for_drain`); copy server-side (`server_side_copy`, a polled
`_reindex` task that keeps each document's routing) and then by sequence number
(`copy_changes`: every document changed after the checkpoints, per shard); shape a source
document for the target's mapping and compute the fields a writer derives in Python
(`Shape`, `fill_derived`); delete from the target what the source no longer holds
(`remove_deleted`, by per-workspace counts); check equal counts and a random sample
(`verify`); restore replicas and refresh from the mapping file and wait for health
(`restore_settings`). Every failure is a ReindexError; none of them takes the lock,
freezes writers or moves an alias: that order is app/search/reindex.py's.

Why a module of their own: the phases and their order read best without the steps'
queries between them, and the steps are what a rollback shares with a reindex.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable

from opensearchpy import OpenSearch, helpers

from app.search.documents import (
    METHODS_MISSING,
    NAME_SOUNDS_MISSING,
    derived_method_fields,
    derived_name_fields,
)

Progress = Callable[[str, int, int], None]  # phase, done, total

SAMPLE_SIZE = 50
PARTITION_FIELD = "workspaceId"


# Fields a writer computes in Python (names' sound codes; the phones and emails lists,
# which documents older than the lists lack): a server-side copy carries them over as
# they were, so after it the target gets them computed for the documents that lack them
# (each function with the query that finds those), and every catch-up copy recomputes
# them. Fields the target's mapping does not know (a rollback to a version older than a
# field) are left out of every copy, and so is a function whose fields it lacks.
DERIVED = {
    "contacts": (
        (derived_name_fields, NAME_SOUNDS_MISSING),
        (derived_method_fields, METHODS_MISSING),
    )
}


class ReindexError(Exception):
    pass


def local_checkpoints(client: OpenSearch, index: str) -> dict[int, int]:
    """Primary shard -> the sequence number up to which every operation is applied."""
    stats = client.indices.stats(index=index, level="shards", metric="docs")
    shards = stats["indices"][index]["shards"]
    return {
        int(number): copy["seq_no"]["local_checkpoint"]
        for number, copies in shards.items()
        for copy in copies
        if copy["routing"]["primary"]
    }


def wait_for_drain(client: OpenSearch, index: str, timeout: float = 10.0) -> None:
    """After the freeze: wait until operations already admitted have been applied."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = client.indices.stats(index=index, level="shards", metric="docs")
        copies = [c for cs in stats["indices"][index]["shards"].values() for c in cs]
        if all(c["seq_no"]["max_seq_no"] == c["seq_no"]["local_checkpoint"] for c in copies):
            return
        time.sleep(0.02)
    raise ReindexError(f"in-flight writes on {index} did not drain in {timeout}s")


def count(client: OpenSearch, index: str) -> int:
    return client.count(index=index)["count"]


class Shape:
    """How a source document becomes a document of the target's mapping."""

    def __init__(self, client: OpenSearch, target: str, name: str) -> None:
        mapping = client.indices.get_mapping(index=target)[target]["mappings"]
        self.fields = sorted(mapping.get("properties", {}))
        self.derived = [
            (derive, missing)
            for derive, missing in DERIVED.get(name, ())
            if set(derive({})) <= set(self.fields)
        ]

    def __call__(self, source: dict) -> dict:
        document = {k: v for k, v in source.items() if k in self.fields}
        for derive, _ in self.derived:
            document.update(derive(source))
        return document


def fill_derived(client: OpenSearch, target: str, shape: Shape) -> int:
    """Compute the derived fields of the documents copied without them."""
    if not shape.derived:
        return 0
    lacking = {"bool": {"should": [missing for _, missing in shape.derived]}}
    hits = helpers.scan(client, index=target, query={"query": lacking}, size=1000)
    return _bulk_copy(client, target, hits, shape)


def _bulk_copy(client: OpenSearch, target: str, hits, shape: Shape | None = None) -> int:
    actions = (
        {
            "_op_type": "index",
            "_index": target,
            "_id": hit["_id"],
            "_routing": hit.get("_routing"),
            "_source": shape(hit["_source"]) if shape else hit["_source"],
        }
        for hit in hits
    )
    copied, errors = helpers.bulk(client, actions, chunk_size=1000, raise_on_error=False)
    if errors:
        raise ReindexError(f"{len(errors)} documents failed to copy, e.g. {errors[0]}")
    return copied


def copy_changes(
    client: OpenSearch, source: str, target: str, since: dict[int, int], shape: Shape | None = None
) -> tuple[int, dict[int, int]]:
    """Copy documents changed after the `since` checkpoints; return (copied, new checkpoints)."""
    checkpoints = local_checkpoints(client, source)
    client.indices.refresh(index=source)
    copied = 0
    for shard, seq_no in since.items():
        hits = helpers.scan(
            client,
            index=source,
            query={"query": {"range": {"_seq_no": {"gt": seq_no}}}},
            preference=f"_shards:{shard}",
            size=1000,
        )
        copied += _bulk_copy(client, target, hits, shape)
    return copied, checkpoints


def partition_counts(client: OpenSearch, index: str) -> Counter:
    """Documents per workspace (composite aggregation, paged)."""
    counts: Counter = Counter()
    after = None
    while True:
        composite = {
            "size": 5000,
            "sources": [{"p": {"terms": {"field": PARTITION_FIELD, "missing_bucket": True}}}],
        }
        if after:
            composite["after"] = after
        result = client.search(
            index=index, body={"size": 0, "aggs": {"parts": {"composite": composite}}}
        )
        buckets = result["aggregations"]["parts"]["buckets"]
        counts.update({b["key"]["p"]: b["doc_count"] for b in buckets})
        after = result["aggregations"]["parts"].get("after_key")
        if not buckets or not after:
            return counts


def _ids(client: OpenSearch, index: str, partition) -> dict[str, str | None]:
    if partition is None:
        query = {"bool": {"must_not": {"exists": {"field": PARTITION_FIELD}}}}
    else:
        query = {"term": {PARTITION_FIELD: partition}}
    hits = helpers.scan(client, index=index, query={"query": query, "_source": False}, size=5000)
    return {hit["_id"]: hit.get("_routing") for hit in hits}


def remove_deleted(client: OpenSearch, source: str, target: str) -> int:
    """Delete from the target what the source no longer holds (target ⊇ source here).

    The target holds every source document after the catch-up, so a workspace whose
    counts agree holds the same ids; only the workspaces that differ are listed.
    """
    # Counts must see every copied document: a copied one still invisible could hide a
    # stale one in the same workspace (equal counts, different ids).
    client.indices.refresh(index=f"{source},{target}")
    has_partition = PARTITION_FIELD in json.dumps(client.indices.get_mapping(index=source))
    if has_partition:
        source_counts, target_counts = (
            partition_counts(client, source),
            partition_counts(client, target),
        )
        differing = [p for p in target_counts if target_counts[p] != source_counts.get(p, 0)]
    else:
        differing = ["*"]
    stale: dict[str, str | None] = {}
    for partition in differing:
        if partition == "*":
            source_ids = {h["_id"] for h in helpers.scan(client, index=source, _source=False)}
            target_ids = {
                h["_id"]: h.get("_routing")
                for h in helpers.scan(client, index=target, _source=False)
            }
        else:
            source_ids, target_ids = (
                _ids(client, source, partition),
                _ids(client, target, partition),
            )
        stale.update({i: r for i, r in target_ids.items() if i not in source_ids})
    if stale:
        actions = (
            {"_op_type": "delete", "_index": target, "_id": i, "_routing": r}
            for i, r in stale.items()
        )
        helpers.bulk(client, actions, raise_on_error=False)
        client.indices.refresh(index=target)
    return len(stale)


def verify(
    client: OpenSearch, source: str, target: str, shape: Shape | None = None
) -> tuple[int, int]:
    """Equal counts and an identical random sample (as shaped for the target), or
    ReindexError."""
    client.indices.refresh(index=target)
    source_count, target_count = count(client, source), count(client, target)
    if source_count != target_count:
        raise ReindexError(f"count mismatch: {source} {source_count} != {target} {target_count}")
    sample = client.search(
        index=source,
        body={
            "size": SAMPLE_SIZE,
            "query": {
                "function_score": {
                    "random_score": {"seed": random.randint(0, 2**31), "field": "_seq_no"}
                }
            },
        },
    )["hits"]["hits"]
    if sample:
        docs = [{"_id": h["_id"], "routing": h.get("_routing")} for h in sample]
        found = client.mget(index=target, body={"docs": docs})["docs"]
        for hit, doc in zip(sample, found, strict=True):
            expected = shape(hit["_source"]) if shape else hit["_source"]
            if not doc.get("found") or doc["_source"] != expected:
                raise ReindexError(f"sample document {hit['_id']} differs in {target}")
    return source_count, target_count


def restore_settings(client: OpenSearch, index: str, definition: dict) -> None:
    wanted = definition["settings"]["index"]
    client.indices.put_settings(
        index=index,
        body={
            "index": {
                "number_of_replicas": wanted.get("number_of_replicas", 1),
                "refresh_interval": wanted.get("refresh_interval", "1s"),
            }
        },
    )
    replicas = int(wanted.get("number_of_replicas", 1))
    nodes = client.cluster.health()["number_of_nodes"]
    status = "green" if nodes > replicas else "yellow"
    for _ in range(10):  # up to ~5 minutes, in client-friendly waits
        health = client.cluster.health(
            index=index, wait_for_status=status, params={"timeout": "30s"}, request_timeout=40
        )
        if not health["timed_out"]:
            return
    raise ReindexError(f"{index} did not reach {status} health")


def server_side_copy(
    client: OpenSearch,
    source: str,
    target: str,
    progress: Progress,
    requests_per_second: float | None = None,
    fields: list[str] | None = None,
) -> int:
    """`_reindex` as a task, polled for the progress bar; keeps each document's routing."""
    total = count(client, source)
    params = {"wait_for_completion": "false", "slices": "auto", "refresh": "false"}
    if requests_per_second:
        params["requests_per_second"] = requests_per_second
    task = client.reindex(
        body={
            "source": {"index": source, "size": 1000, **({"_source": fields} if fields else {})},
            "dest": {"index": target},
        },
        params=params,
    )["task"]
    while True:
        state = client.tasks.get(task_id=task)
        status = state["task"]["status"]
        progress("copy", status.get("created", 0) + status.get("updated", 0), total)
        if state.get("completed"):
            break
        time.sleep(0.5)
    response = state.get("response", {})
    failures = response.get("failures") or []
    if failures or state.get("error"):
        raise ReindexError(f"_reindex failed: {(failures or [state.get('error')])[0]}")
    return response.get("created", 0) + response.get("updated", 0)
