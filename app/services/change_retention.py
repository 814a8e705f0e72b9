"""ChangeRetention: the change feed keeps changes and tombstones for
CHANGES_RETENTION_SECONDS; the worker purges older ones every CHANGES_PURGE_SECONDS.

A purge first stores each workspace's purged position as the document `<ws>:floor`
(refreshed before the deletion starts), then deletes that workspace's changes up to it.
So a reader holding a cursor below the floor gets 410 `cursor_expired` from the first
moment any of its changes may be gone: it never silently skips purged changes
(app/services/changes.py reads the floor with every page).
"""

from __future__ import annotations

import logging
import threading
import time

from opensearchpy import OpenSearch

from app.search.documents import utc_now
from app.search.indices import IndexNames

log = logging.getLogger(__name__)


def read_floor(client: OpenSearch, names: IndexNames, workspace_id: str) -> int:
    """The workspace's purged position (0: nothing purged yet); real time."""
    found = client.mget(
        index=names.read,
        body={"docs": [{"_id": f"{workspace_id}:floor", "routing": workspace_id}]},
        realtime=True,
    )["docs"][0]
    return int(found["_source"]["seq"]) if found.get("found") else 0


class ChangeRetention:
    def __init__(self, client: OpenSearch, index_prefix: str, retention_seconds: float) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "changes")
        self.retention_seconds = retention_seconds

    def purge(self, retention_seconds: float | None = None) -> int:
        """Delete changes older than the retention; returns how many."""
        keep = self.retention_seconds if retention_seconds is None else retention_seconds
        cutoff = int((time.time() - keep) * 1000)  # epoch ms, as `at` is compared
        self.client.indices.refresh(index=self.names.write)  # once per pass
        old = [{"term": {"kind": "change"}}, {"range": {"at": {"lt": cutoff}}}]
        result = self.client.search(
            index=self.names.read,
            body={
                "size": 0,
                "query": {"bool": {"filter": old}},
                "aggs": {
                    "ws": {
                        "terms": {"field": "workspaceId", "size": 10_000},
                        "aggs": {"top": {"max": {"field": "seq"}}},
                    }
                },
            },
        )
        purged = 0
        for bucket in result["aggregations"]["ws"]["buckets"]:
            purged += self._purge(bucket["key"], int(bucket["top"]["value"]))
        return purged

    def _purge(self, workspace_id: str, top: int) -> int:
        if top > read_floor(self.client, self.names, workspace_id):
            self.client.index(
                index=self.names.write,
                id=f"{workspace_id}:floor",
                routing=workspace_id,
                body={"workspaceId": workspace_id, "kind": "floor", "seq": top, "at": utc_now()},
                refresh="wait_for",
            )
        deleted = self.client.delete_by_query(
            index=self.names.write,
            routing=workspace_id,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"workspaceId": workspace_id}},
                            {"term": {"kind": "change"}},
                            {"range": {"seq": {"lte": top}}},
                        ]
                    }
                }
            },
            conflicts="proceed",
            refresh=True,
        )
        return deleted.get("deleted", 0)

    def purge_forever(self, stop: threading.Event, interval: float) -> None:
        """The worker's retention loop."""
        while not stop.wait(interval):
            try:
                purged = self.purge()
                if purged:
                    log.info("purged %d changes past retention", purged)
            except Exception:  # a dead loop would keep changes forever: log and go on
                log.exception("change purge failed; retrying")
