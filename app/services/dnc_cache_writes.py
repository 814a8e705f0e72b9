"""DncCacheWrites: the write side of the DNC cache protocol (app/dnc/cache.py), for DncService.

A write announces its numbers with a mark before it changes the record (`_mark`: when
Redis cannot take it, nothing is written and the caller gets a 503), then settles the
cache (`_finish`: a 503 when that cannot be confirmed, the mark staying so checks keep
asking the record). On a failure path `_settle_quietly` lists the numbers and leaves a
mark on each (fail closed). `settle` makes the cache follow the record for given
numbers, safely against concurrent writers (the reconciler's repair).

Separate from app/services/dnc.py because these steps are the protocol's, shared by
every kind of write; the writes themselves (what reaches the record, the history and the
contacts) stay there. DncService inherits it; its methods use the service's `cache`,
`lookup`, `rules` and `schedule_build`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from app.dnc.encoding import new_mark
from app.dnc.rules import rule_of
from app.errors import ServiceUnavailable
from app.services.dnc_builds import BUILD_BATCH

log = logging.getLogger(__name__)

NOT_MARKED = "The DNC list cannot change while its cache is unreachable; nothing was written."
NOT_SETTLED = "The change may be recorded but is not confirmed; retry the same request."
SETTLE_BATCH = 1_000


class DncCacheWrites:
    """The cache protocol's write steps of DncService (mixed into it)."""

    def _mark(self, workspace_id: str, phones: list[str] | None) -> str:
        """Announce a write; when Redis cannot take it, nothing is written (503)."""
        try:
            if phones is None:
                return self.cache.mark_bulk(workspace_id)
            return self.cache.mark(workspace_id, phones)
        except Exception as exc:
            log.warning("DNC write refused, cache unreachable: %s", type(exc).__name__)
            raise ServiceUnavailable(NOT_MARKED) from exc

    def _finish(self, op: str, workspace_id: str, phones: list[str], mark: str) -> None:
        """Settle the cache after the record changed; 503 when it cannot be confirmed
        (the mark stays, so checks keep asking the record)."""
        try:
            for start in range(0, len(phones), BUILD_BATCH):
                chunk = phones[start : start + BUILD_BATCH]
                if op == "remove":
                    self.cache.finish_remove(workspace_id, chunk, mark)
                elif start + BUILD_BATCH < len(phones):
                    # Not the last chunk: a bulk write's mark must outlive it.
                    self.cache.finish_add(workspace_id, chunk, new_mark())
                else:
                    self.cache.finish_add(workspace_id, chunk, mark)
            if self.cache.is_full(self.cache.state(workspace_id)):
                self.schedule_build(workspace_id)
        except Exception as exc:
            log.warning("DNC cache not settled for %s: %s", workspace_id, type(exc).__name__)
            raise ServiceUnavailable(NOT_SETTLED) from exc

    def _settle_quietly(self, workspace_id: str, phones: list[str]) -> None:
        """Best effort on a failure path: list the numbers in the cache and leave a mark
        on each, so checks ask the record until the reconciler has settled them."""
        try:
            for start in range(0, len(phones), BUILD_BATCH):
                chunk = phones[start : start + BUILD_BATCH]
                self.cache.finish_add(workspace_id, chunk, new_mark())
                self.cache.mark(workspace_id, chunk)
        except Exception:
            log.warning("DNC cache unreachable on a failed write of %s", workspace_id)

    def settle(self, workspace_id: str, phones: Sequence[str]) -> dict:
        """Make the cache follow the record for these numbers, safely against writers.

        Marks them, reads the record in real time, then lists the ones it holds and
        removes the others only while the mark is still ours (see app/dnc/cache.py).
        """
        phones = list(dict.fromkeys(phones))
        listed, absent = [], []
        for start in range(0, len(phones), SETTLE_BATCH):
            chunk = phones[start : start + SETTLE_BATCH]
            mark = self.cache.mark(workspace_id, chunk)
            entries = self.lookup(workspace_id, chunk)
            held = [p for p in chunk if p in entries and rule_of(entries[p]).in_intsets]
            gone = [p for p in chunk if p not in held]
            self.rules.settle_fields(workspace_id, [p[1:] for p in chunk])
            if held:
                self.cache.finish_add(workspace_id, held, mark)
            if gone:
                self.cache.finish_remove(workspace_id, gone, mark)
            listed += held
            absent += gone
        return {"listed": listed, "absent": absent}
