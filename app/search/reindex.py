"""Zero-downtime reindex: build the next version of an index, then move its aliases.

Writers keep using the aliases the whole time; the copy catches up with them:

1. Under a Redis lock, create `<name>-v<N+1>` from index_mappings/ with replicas 0 and
   refresh off (loading is faster without either).
2. Note each source shard's local checkpoint (every operation up to it is applied),
   refresh, and copy everything server-side with `_reindex` (a task we poll for the
   progress bar). The copy sees every operation up to the checkpoints.
3. Catch up: copy the documents whose `_seq_no` is above the last checkpoints, per
   shard, and repeat until the tail is short. Sequence numbers, not `updatedAt`,
   because they also see bulk imports, update-by-query and anything else that writes.
4. Restore replicas and refresh interval from the mapping file; wait for the shards.
5. Freeze the source with `index.blocks.write` (writers retry: see `freeze_tolerant`),
   wait for in-flight operations to drain, copy the last changes, and remove from the
   target the documents deleted meanwhile (per-workspace counts find them without
   listing every id). Verify counts and a random sample, then move the read and write
   aliases in one `update_aliases` call and lift the freeze. The freeze lasts well
   under a second when the catch-up has converged.

Anything failing before the swap lifts the freeze and deletes the half-built index.
ETags (seq_no/primary_term) are per index, so a swap makes earlier ETags stale: an
If-Match across a reindex answers 412 and the client re-reads.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from opensearchpy import AuthorizationException, OpenSearch, helpers

from app.locks import RenewableLock
from app.search.documents import (
    METHODS_MISSING,
    NAME_SOUNDS_MISSING,
    derived_method_fields,
    derived_name_fields,
)
from app.search.indices import (
    IndexNames,
    create_version,
    current_index,
    load_definition,
    point_aliases,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # phase, done, total

LOCK_TTL_SECONDS = 60
CATCH_UP_ROUNDS = 5
# Stop catching up unfrozen once a round copies fewer documents than this.
CATCH_UP_SETTLED = 200
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


class ReindexInProgress(ReindexError):
    pass


@dataclass
class ReindexResult:
    source: str
    target: str
    source_count_before: int = 0
    copied: int = 0
    caught_up: int = 0
    deleted: int = 0
    target_count: int = 0
    source_count_after: int = 0
    freeze_ms: float = 0.0
    seconds: float = 0.0
    dry_run: bool = False
    rounds: list[int] = field(default_factory=list)
    freeze_phases: dict[str, float] = field(default_factory=dict)  # ms per step

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _noop(phase: str, done: int, total: int) -> None:
    pass


class _Clock:
    """Records milliseconds since the previous call under a step name."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.last = into, time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.into[step] = round((now - self.last) * 1000, 1)
        self.last = now


# --- the lock ------------------------------------------------------------------------


@contextmanager
def reindex_lock(client: redis.Redis, key: str) -> Iterator[RenewableLock]:
    """Hold the reindex lock (renewed, so a long copy keeps it) or refuse to start."""
    lock = RenewableLock(client, key, LOCK_TTL_SECONDS)
    if not lock.acquire():
        raise ReindexInProgress(f"another reindex holds {key}")
    try:
        yield lock
    finally:
        lock.release()


def lock_key(redis_prefix: str, names: IndexNames) -> str:
    return f"{redis_prefix}lock:reindex:{names.read}"


# --- helpers -------------------------------------------------------------------------


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


def set_write_block(client: OpenSearch, index: str, blocked: bool) -> None:
    client.indices.put_settings(index=index, body={"index.blocks.write": blocked})


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


# --- the pipeline ----------------------------------------------------------------------


def sync_into(
    client: OpenSearch,
    names: IndexNames,
    source: str,
    target: str,
    result: ReindexResult,
    progress: Progress,
    requests_per_second: float | None = None,
) -> None:
    """Copy source into target while writers go on, then freeze, finish and swap."""
    checkpoints = local_checkpoints(client, source)
    client.indices.refresh(index=source)
    shape = Shape(client, target, names.name)
    result.copied = server_side_copy(
        client, source, target, progress, requests_per_second, fields=shape.fields
    )
    client.indices.refresh(index=target)
    fill_derived(client, target, shape)
    for _ in range(CATCH_UP_ROUNDS):
        copied, checkpoints = copy_changes(client, source, target, checkpoints, shape)
        result.caught_up += copied
        result.rounds.append(copied)
        progress("catch-up", copied, copied)
        if copied < CATCH_UP_SETTLED:
            break
    if names.version_of(target) > names.version_of(source):
        restore_settings(client, target, load_definition(names.name))
    # Deletes so far are removed unfrozen; the frozen sweep then only meets the last few.
    result.deleted = remove_deleted(client, source, target)
    clock = _Clock(result.freeze_phases)
    set_write_block(client, source, True)
    try:
        clock("block")
        wait_for_drain(client, source)
        clock("drain")
        copied, checkpoints = copy_changes(client, source, target, checkpoints, shape)
        result.caught_up += copied
        result.rounds.append(copied)
        clock("catch-up")
        result.deleted += remove_deleted(client, source, target)
        clock("deletes")
        result.source_count_after, result.target_count = verify(client, source, target, shape)
        clock("verify")
        point_aliases(client, names, target)
        clock("swap")
    finally:
        set_write_block(client, source, False)
        clock("unblock")
        result.freeze_ms = round(sum(result.freeze_phases.values()), 1)
    progress("swap", 1, 1)


def reindex(
    client: OpenSearch,
    redis_client: redis.Redis,
    index_prefix: str,
    redis_prefix: str,
    name: str,
    *,
    delete_old: bool = False,
    dry_run: bool = False,
    progress: Progress = _noop,
    requests_per_second: float | None = None,
) -> ReindexResult:
    """Build `<name>-v<N+1>` from the mapping file and move the aliases to it."""
    names = IndexNames(index_prefix, name)
    source = current_index(client, names)
    if source is None:
        raise ReindexError(f"alias {names.read} does not exist; run make indices first")
    number = names.version_of(source) + 1
    while client.indices.exists(index=names.version(number)):
        number += 1  # a leftover of an aborted or rolled-back run: never reuse it
    result = ReindexResult(source, names.version(number), dry_run=dry_run)
    result.source_count_before = count(client, source)
    if dry_run:
        return result
    started = time.perf_counter()
    with reindex_lock(redis_client, lock_key(redis_prefix, names)):
        # Loading is faster without replicas and refreshes; both come back before the swap.
        create_version(
            client, names, number, overrides={"number_of_replicas": 0, "refresh_interval": "-1"}
        )
        try:
            sync_into(client, names, source, result.target, result, progress, requests_per_second)
        except BaseException:
            client.indices.delete(index=result.target, ignore_unavailable=True)
            raise
        if delete_old:
            client.indices.delete(index=source)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def rollback(
    client: OpenSearch,
    redis_client: redis.Redis,
    index_prefix: str,
    redis_prefix: str,
    name: str,
    *,
    aliases_only: bool = False,
    dry_run: bool = False,
    progress: Progress = _noop,
) -> ReindexResult:
    """Point the aliases back at the previous version (kept by `reindex`).

    By default the writes made since the swap are copied back first, with the same
    catch-up and freeze as a reindex; `aliases_only` just moves the aliases.
    """
    names = IndexNames(index_prefix, name)
    source = current_index(client, names)
    if source is None:
        raise ReindexError(f"alias {names.read} does not exist")
    older = [
        names.version_of(i)
        for i in client.indices.get(index=f"{names.read}-v*", expand_wildcards="all")
        if 0 < names.version_of(i) < names.version_of(source)
    ]
    if not older:
        raise ReindexError(f"no version older than {source} to roll back to")
    result = ReindexResult(source, names.version(max(older)), dry_run=dry_run)
    result.source_count_before = count(client, source)
    if dry_run:
        return result
    started = time.perf_counter()
    with reindex_lock(redis_client, lock_key(redis_prefix, names)):
        if aliases_only:
            point_aliases(client, names, result.target)
        else:
            sync_into(client, names, source, result.target, result, progress)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


# --- writers during the freeze ---------------------------------------------------------


def _is_write_block(error) -> bool:
    text = json.dumps(error) if not isinstance(error, str) else error
    return "cluster_block_exception" in text and "index write" in text


def _bulk_lines(body) -> list[tuple[str, str | None]]:
    """Split a serialized bulk body into (action, source-or-None) pairs."""
    text = body.decode() if isinstance(body, bytes) else body
    lines = [line for line in text.split("\n") if line]
    pairs, index = [], 0
    while index < len(lines):
        action = lines[index]
        has_source = next(iter(json.loads(action))) != "delete"
        pairs.append((action, lines[index + 1] if has_source else None))
        index += 2 if has_source else 1
    return pairs


def _refused_items(response) -> list[int]:
    if not isinstance(response, dict) or not response.get("errors"):
        return []
    return [
        n
        for n, item in enumerate(response["items"])
        if _is_write_block(next(iter(item.values())).get("error", ""))
    ]


def freeze_tolerant(client: OpenSearch, max_wait: float) -> None:
    """Retry writes refused by a reindex's write freeze until the aliases have moved.

    The freeze is checked before a write runs, so a refused write never happened and
    retrying it is safe; the retry resolves the write alias again and lands in the new
    index. Bulk requests retry only their refused items.
    """
    transport = client.transport
    perform = transport.perform_request

    def attempt(method, url, params, body, args, kwargs, deadline):
        delay = 0.02
        while True:
            try:
                return perform(method, url, params, body, *args, **kwargs)
            except AuthorizationException as exc:
                if not _is_write_block(exc.info) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    @functools.wraps(perform)
    def tolerant(method, url, params=None, body=None, *args, **kwargs):
        deadline = time.monotonic() + max_wait
        response = attempt(method, url, params, body, args, kwargs, deadline)
        if not url.split("?")[0].endswith("_bulk"):
            return response
        refused, pairs = _refused_items(response), None
        while refused and time.monotonic() < deadline:
            pairs = pairs or _bulk_lines(body)
            retry_body = "".join(
                pairs[n][0] + "\n" + (pairs[n][1] + "\n" if pairs[n][1] else "") for n in refused
            )
            time.sleep(0.05)
            retried = attempt(method, url, params, retry_body, args, kwargs, deadline)
            for n, item in zip(refused, retried["items"], strict=True):
                response["items"][n] = item
            refused = [refused[k] for k in _refused_items(retried)]
            response["errors"] = any("error" in next(iter(i.values())) for i in response["items"])
        return response

    transport.perform_request = tolerant
