"""DncBuilds: building a workspace's DNC cache generation from the record, for DncService.

A build takes the workspace's build lock (renewed while it runs; a builder that died
frees it within BUILD_LOCK_SECONDS), counts the intset entries to size the new
generation, refreshes the `dnc` index so every write acknowledged before that point is
read by the scan, loads the numbers and the rule entries' descriptors, seeds the list's
version from its history and only then makes the generation live (app/dnc/cache.py
states why writes made during the scan reach the new generation directly). A check of a
workspace not yet built asks for a build in the background (`schedule_build`): one
thread per workspace and process.

Separate from app/services/dnc.py because building reads the whole record and never
writes it: it shares none of the write path's marks. DncService inherits it; its
methods use the service's `client`, `cache`, `names`, `history` and pending-build state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator

from opensearchpy.helpers import scan

from app.locks import RenewableLock
from app.services.dnc_rules import descriptors, rule_query

log = logging.getLogger(__name__)

BUILD_BATCH = 5_000
# A build renews its lock; one that died frees it within this many seconds.
BUILD_LOCK_SECONDS = 30


class DncBuilds:
    """The cache builds of DncService (mixed into it)."""

    def schedule_build(self, workspace_id: str) -> None:
        """Build a workspace's cache in the background (one builder at a time, by lock).

        Every check of a not-yet-built workspace asks for a build; only the first in this
        process starts a thread, the rest find it pending.
        """
        with self._pending_lock:
            if workspace_id in self._pending_builds:
                return
            self._pending_builds.add(workspace_id)
        threading.Thread(
            target=self._build_quietly, args=(workspace_id,), daemon=True, name="dnc-build"
        ).start()

    def _build_quietly(self, workspace_id: str) -> None:
        try:
            self.rebuild(workspace_id)
        except Exception:
            log.exception("DNC cache build failed for %s", workspace_id)
        finally:
            with self._pending_lock:
                self._pending_builds.discard(workspace_id)

    def rebuild(self, workspace_id: str) -> dict | None:
        """Build a new cache generation from OpenSearch and make it live; None if busy."""
        lock = RenewableLock(
            self.cache.client, self.cache.lock_key(workspace_id), BUILD_LOCK_SECONDS
        )
        if not lock.acquire():
            return None
        try:
            filters = workspace_query(workspace_id)
            count = self.client.count(
                index=self.names.read, routing=workspace_id, body={"query": filters}
            )["count"]
            layout = self.cache.begin_build(workspace_id, count)
            # Everything written before this point is read by the scan below; later
            # writes reach the new generation directly (see DncCache).
            self.client.indices.refresh(index=self.names.read)
            loaded = 0
            for batch in self.scan_phones(workspace_id, filters):
                loaded += self.cache.load(workspace_id, layout, batch)
            loaded += self.cache.load_rules(workspace_id, layout, self.rule_fields(workspace_id))
            self.seed_version(workspace_id)  # before the flip: a check never reads it unset
            self.cache.finish_build(workspace_id, layout)
            log.info(
                "DNC cache for %s built: %d numbers, %d bits", workspace_id, loaded, layout.bits
            )
            return {"workspaceId": workspace_id, "numbers": loaded, "bits": layout.bits}
        finally:
            lock.release()

    def rule_fields(self, workspace_id: str) -> dict[str, str]:
        """Every rule entry of the record as the cache files it (app/dnc/rules.py)."""
        hits = scan(
            self.client,
            index=self.names.read,
            routing=workspace_id,
            query={"query": rule_query(workspace_id)},
            size=BUILD_BATCH,
            preserve_order=False,
        )
        return descriptors([hit["_source"] for hit in hits])

    def seed_version(self, workspace_id: str) -> None:
        """The list's version counts its history: restore it after Redis lost it."""
        self.client.indices.refresh(index=self.history.read)
        changes = self.client.count(
            index=self.history.read,
            routing=workspace_id,
            body={"query": {"term": {"workspaceId": workspace_id}}},
        )["count"]
        self.cache.seed_version(workspace_id, changes)

    def scan_phones(self, workspace_id: str, query: dict) -> Iterator[list[str]]:
        batch: list[str] = []
        hits = scan(
            self.client,
            index=self.names.read,
            routing=workspace_id,
            query={"query": query, "_source": ["phone"]},
            size=BUILD_BATCH,
            preserve_order=False,
        )
        for hit in hits:
            batch.append(hit["_source"]["phone"])
            if len(batch) >= BUILD_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def workspaces(self) -> Iterable[str]:
        """Every workspace that has a DNC list or a DNC cache (rebuilds, reconciler)."""
        result = self.client.search(
            index=self.names.read,
            body={
                "size": 0,
                "aggs": {"ws": {"terms": {"field": "workspaceId", "size": 100_000}}},
            },
        )
        found = {b["key"] for b in result["aggregations"]["ws"]["buckets"]}
        found.update(self.cache.workspaces())
        return sorted(found)


def workspace_query(workspace_id: str) -> dict:
    """The workspace's entries the intsets hold: exact, workspace-wide, all channels, no
    expiry (the rule entries are `rule_query`'s)."""
    return {
        "bool": {
            "filter": [{"term": {"workspaceId": workspace_id}}],
            "must_not": rule_query(workspace_id)["bool"]["should"],
        }
    }
