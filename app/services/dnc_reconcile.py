"""DncReconciler: proves each workspace's DNC cache equals the record, and repairs it.

Redis is a cache, not a store of record: after a failover, a restore from an old
snapshot, a writer that died half-way or a reply lost on the network, the cache (and
the contacts' indexed `dnc` flags) may disagree with the record in OpenSearch. Checks
never trust such a cache blindly (see app/dnc/cache.py); the reconciler makes the two
agree again so that checks are answered from the cache, and reports every difference
it repaired (log lines and the `dnc_reconcile_repairs_total` metric).

It runs on the worker every DNC_RECONCILE_SECONDS (one worker at a time, by lock), and
on demand with `make reconcile` (`contacts reconcile`).
"""

from __future__ import annotations

import logging
import threading
import time

from app import observability
from app.dnc.encoding import mark_age_seconds
from app.locks import RenewableLock
from app.services.dnc import DncService
from app.services.dnc_builds import workspace_query

log = logging.getLogger(__name__)

# A mark older than this is settled by the reconciler (writers finish in well under it).
MARK_GRACE_SECONDS = 5.0
# A bulk write's mark is cleared after a full comparison once it is this old.
BULK_GRACE_SECONDS = 600.0
LOCK_SECONDS = 30
# The full comparison reads every number of the workspace (cache and record) and its
# contacts: once an hour per workspace by default; the quick steps run every pass.
FULL_EVERY_SECONDS = 3600.0


class DncReconciler:
    def __init__(self, dnc: DncService, *, full_every: float = FULL_EVERY_SECONDS) -> None:
        self.dnc = dnc
        self.full_every = full_every

    def _last_full_key(self, workspace_id: str) -> str:
        return f"{self.dnc.cache.key_prefix}dnc:{{{workspace_id}}}:reconciled"

    def _full_due(self, workspace_id: str) -> bool:
        last = self.dnc.cache.client.get(self._last_full_key(workspace_id))
        return last is None or time.time() - float(last) >= self.full_every

    def reconcile(
        self,
        workspace_id: str,
        *,
        grace: float = MARK_GRACE_SECONDS,
        bulk_grace: float = BULK_GRACE_SECONDS,
        full: bool | None = None,
    ) -> dict:
        """Prove the cache equals the record for one workspace, and repair what differs.

        Steps 1-2 run on every pass; 3-5 (the full comparison) when `full`, when it is
        due (`full_every`), or when a bulk write's mark is old enough to be cleared.

        1. A cache that may not be trusted (never built, or stamped by an earlier Redis
           run) is rebuilt from the record.
        2. Marks older than `grace` (writers that died or lost Redis half-way) are
           settled against the record.
        3. Every number of the live generation is compared with the record; each
           difference is settled (the guarded step, safe against concurrent writers).
        4. Bulk marks older than `bulk_grace` that were there before the comparison are
           cleared: the comparison covered their writes.
        5. Contacts whose indexed `dnc` flag disagrees with the record are corrected.

        Every pass also removes the entries whose expiry has passed (DncRules.expire_due),
        and the full comparison covers the rule entries (app/dnc/rules.py) too.
        """
        report = {
            "workspaceId": workspace_id,
            "full": False,
            "rebuilt": False,
            "settledMarks": 0,
            "missing": 0,
            "extra": 0,
            "flagsFixed": 0,
            "expired": 0,
            "rulesRepaired": 0,
        }
        state = self.dnc.cache.state(workspace_id)
        if not self.dnc.cache.trusted(state):
            report["rebuilt"] = self.dnc.rebuild(workspace_id) is not None
        # Entries whose expiry passed leave the record, the cache and the contacts' flags
        # (checks stopped matching them at the expiry already).
        report["expired"] = self.dnc.rules.expire_due(workspace_id)
        now = time.time()
        marks = self.dnc.cache.marks(workspace_id)
        old = [p for p, m in marks.items() if mark_age_seconds(m, now) >= grace]
        if old:
            self.dnc.settle(workspace_id, old)
            report["settledMarks"] = len(old)
        report["settledMarks"] += self._settle_rule_marks(workspace_id, grace, now)
        bulk = self.dnc.cache.bulk_marks(workspace_id)
        old_bulk = [m for m in bulk if mark_age_seconds(m, now) >= bulk_grace]
        if full is None:
            full = bool(old_bulk) or self._full_due(workspace_id)
        if not full:
            return report
        report["full"] = True
        self.dnc.client.indices.refresh(index=self.dnc.names.read)
        batches = self.dnc.scan_phones(workspace_id, workspace_query(workspace_id))
        record = {phone for batch in batches for phone in batch}
        cached = self.dnc.cache.members(workspace_id)
        if cached is not None:
            missing, extra = record - cached, cached - record
            report["missing"], report["extra"] = len(missing), len(extra)
            if missing or extra:
                settled = self.dnc.settle(workspace_id, sorted(missing | extra))
                log.warning(
                    "DNC cache of %s drifted from the record: %d missing, %d extra; repaired",
                    workspace_id,
                    len(missing),
                    len(extra),
                )
                observability.DNC_DRIFT.labels("missing").inc(len(missing))
                observability.DNC_DRIFT.labels("extra").inc(len(extra))
                record = (record - set(settled["absent"])) | set(settled["listed"])
            report["rulesRepaired"] = self._repair_rules(workspace_id)
            for mark in old_bulk:
                self.dnc.cache.clear_bulk_mark(workspace_id, mark)
        report["flagsFixed"] = self._repair_flags(workspace_id, record)
        if report["flagsFixed"]:
            log.warning("DNC flags of %d contacts repaired", report["flagsFixed"])
            observability.DNC_DRIFT.labels("contact_flag").inc(report["flagsFixed"])
        self.dnc.cache.client.set(self._last_full_key(workspace_id), time.time())
        return report

    def _settle_rule_marks(self, workspace_id: str, grace: float, now: float) -> int:
        """Rule writes that died half-way: their fields are set as the record has them."""
        marks = self.dnc.cache.rule_marks(workspace_id)
        old = {f: m for f, m in marks.items() if mark_age_seconds(m, now) >= grace}
        if old:
            self.dnc.rules.settle_fields(workspace_id, sorted({f.split("|")[0] for f in old}))
            for field, mark in old.items():
                self.dnc.cache.clear_rule_mark(workspace_id, field, mark)
        return len(old)

    def _repair_rules(self, workspace_id: str) -> int:
        """The rules hash against the record's rule entries (app/dnc/rules.py)."""
        record = self.dnc.rule_fields(workspace_id)
        cached = self.dnc.cache.rules(workspace_id)
        if cached is None:
            return 0
        differ = {f for f in record.keys() | cached.keys() if record.get(f) != cached.get(f)}
        if differ:
            log.warning("DNC rule entries of %s drifted: %d repaired", workspace_id, len(differ))
            observability.DNC_DRIFT.labels("rule").inc(len(differ))
            self.dnc.rules.settle_fields(workspace_id, sorted(differ))
        return len(differ)

    def _repair_flags(self, workspace_id: str, listed: set[str]) -> int:
        """Contacts flagged against the record: listed numbers first, then the contacts
        rule entries cover, then stale flags (re-checked against the whole list)."""
        fixed = self.dnc.sync_contacts(workspace_id, sorted(listed), True) if listed else 0
        fixed += self.dnc.flags.repair(workspace_id, self.dnc.rules.active_rules(workspace_id))
        return fixed

    def reconcile_all(self) -> list[dict]:
        reports = []
        for workspace_id in self.dnc.workspaces():
            try:
                reports.append(self.reconcile(workspace_id))
            except Exception:  # one workspace's failure must not stop the others
                log.exception("DNC reconcile of %s failed", workspace_id)
        return reports

    def run_forever(self, stop: threading.Event, interval: float) -> None:
        """The worker's loop: one pass every `interval` seconds, one worker at a time."""
        key = f"{self.dnc.cache.key_prefix}dnc:reconciler"
        while not stop.wait(interval):
            lock = RenewableLock(self.dnc.cache.client, key, LOCK_SECONDS)
            try:
                if not lock.acquire():
                    continue  # another worker's pass is running
                started = time.monotonic()
                reports = self.reconcile_all()
                elapsed = time.monotonic() - started
                log.info("DNC reconcile: %d workspaces in %.1f s", len(reports), elapsed)
            except Exception:  # a dead loop would leave drift unrepaired: log and go on
                log.exception("DNC reconcile pass failed; retrying next period")
            finally:
                lock.release()
