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

This module holds the phases, their order, the lock and the freeze's timing; each step's
queries are in app/search/reindex_steps.py, and the write freeze with the writers' retry
through it in app/search/write_freeze.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from opensearchpy import OpenSearch

from app.locks import RenewableLock
from app.search.indices import (
    IndexNames,
    create_version,
    current_index,
    load_definition,
    point_aliases,
)
from app.search.reindex_steps import (
    Progress,
    ReindexError,
    Shape,
    copy_changes,
    count,
    fill_derived,
    local_checkpoints,
    remove_deleted,
    restore_settings,
    server_side_copy,
    verify,
    wait_for_drain,
)
from app.search.write_freeze import set_write_block

LOCK_TTL_SECONDS = 60
CATCH_UP_ROUNDS = 5
# Stop catching up unfrozen once a round copies fewer documents than this.
CATCH_UP_SETTLED = 200


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
