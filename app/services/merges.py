"""MergeService: several contacts become one, safely under concurrency and crashes.

`POST /v1/contacts/merge {workspaceId, targetId, sourceIds, fieldChoices}` keeps the
target (app/services/merge_rules.py says what it ends up holding) and removes the
sources. The `merges` index (app/services/merge_store.py) holds two kinds of documents:

- the merge record (`merge_<random>`): who, when, the sources as they were, the field
  choices, and once completed where each value of the survivor came from;
- one redirect per source, whose id is the source's own id: created with
  `op_type=create`, so of two merges claiming the same source exactly one succeeds,
  and a read of a merged-away id finds its survivor in one real-time get.

The steps, each safe to repeat:

1. Lock the target and the sources in Redis (app/locks.py, ids in sorted order), so
   merges of the same contacts run one at a time (a busy contact is a 409 at once).
2. Read everything in real time, write the record (`started`, with the sources' content).
3. Claim each source (redirect, in sorted order). A claim held by another merge makes
   this one give its claims back, mark its record `aborted` and answer 409: the winner
   is the one that claimed first, also when Redis lost the locks.
4. Write the survivor with compare-and-set on the version read, then delete the sources
   with compare-and-set, refreshing so that they are gone from search when the call
   returns. A concurrent PATCH of the target or a source makes its step fail: the merge
   reads again and combines again (combining is idempotent), so the edit is kept.
5. Re-read the DNC list for the survivor's numbers (never a flag copied from an input),
   mark the record `completed`.

A process that dies after step 2 leaves a `started` record. Sending the same merge
again (with or without the same Idempotency-Key) finds the claims and finishes that
record instead of starting another; `recover()` (the worker, every RECOVER_SECONDS)
finishes a started record whose claims are all its own and whose locks have lapsed,
and aborts one that never got them. Until then a source not yet deleted is still an
ordinary contact; once deleted it answers GET with a 301 to its survivor.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import redis
from opensearchpy import ConflictError, helpers

from app.errors import Conflict, NotFound, ServiceUnavailable
from app.locks import RenewableLock
from app.search.documents import from_source, to_document, utc_now
from app.services.changes import contact_entries
from app.services.contact_rules import Versioned
from app.services.contacts import ContactService
from app.services.merge_rules import (
    check_choices,
    check_ids,
    combine,
    merged_conflict,
    merged_into,
)
from app.services.merge_store import MergeStore

log = logging.getLogger(__name__)

LOCK_SECONDS = 30
FINISH_RETRIES = 5
# A chain of merges (A into B, later B into C) is followed this far for a redirect.
MAX_HOPS = 10
# A started record older than this, whose locks have lapsed, is finished or aborted.
STALE_SECONDS = 2 * LOCK_SECONDS
RECOVER_SECONDS = LOCK_SECONDS
RECORD_FIELDS = tuple(
    "id workspaceId status targetId sourceIds fieldChoices actor createdAt completedAt "
    "provenance sources".split()
)


class MergeService:
    def __init__(
        self, contacts: ContactService, cache: redis.Redis, index_prefix: str, key_prefix: str
    ) -> None:
        self.contacts = contacts
        self.client = contacts.client
        self.store = MergeStore(self.client, index_prefix, self._read)
        self.cache = cache
        self.key_prefix = key_prefix

    # --- reads ------------------------------------------------------------------------

    def get_contact(self, contact_id: str, workspaces) -> Versioned:
        """A contact, or a 301 to the survivor of the merge that removed it."""
        try:
            return self.contacts.get(contact_id, workspaces)
        except NotFound:
            survivor = self.survivor_of(contact_id, workspaces)
            if survivor is None:
                raise
            raise merged_into(survivor) from None

    def survivor_of(self, contact_id: str, workspaces) -> str | None:
        """Where a merged-away id lives on now (following later merges), else None."""
        survivor = None
        for _ in range(MAX_HOPS):
            redirect = self.store.find(contact_id, workspaces, "redirect")
            if redirect is None:
                break
            survivor = contact_id = redirect["mergedInto"]
            try:
                self.contacts.get(survivor, workspaces, annotate=False)
                break
            except NotFound:
                continue
        return survivor

    def record(self, merge_id: str, workspaces) -> dict:
        found = (
            self.store.find(merge_id, workspaces, "merge")
            if merge_id.startswith("merge_")
            else None
        )
        if found is None:
            raise NotFound()
        return {field: found.get(field) for field in RECORD_FIELDS}

    # --- merge ------------------------------------------------------------------------

    def merge(self, data: dict, actor: str) -> tuple[dict, Versioned, bool]:
        """(record, survivor, created): created is False when the same merge had already
        been made (or begun) and this call returned (or finished) it."""
        workspace_id, target_id = data["workspaceId"], data["targetId"]
        source_ids, choices = list(data["sourceIds"]), data.get("fieldChoices") or {}
        check_ids(target_id, source_ids)
        check_choices(choices, [target_id, *source_ids])
        with self._locks(workspace_id, [target_id, *source_ids]):
            earlier = self._earlier(workspace_id, target_id, source_ids)
            if earlier is not None:
                if earlier["status"] == "started":
                    earlier = self._finish(earlier)
                survivor = self.contacts.get(target_id, [workspace_id])
                return self.public(earlier), survivor, False
            if self.store.claims_in_force(workspace_id, [target_id]):
                raise merged_conflict("targetId", self.survivor_of(target_id, [workspace_id]))
            target = self.contacts.get(target_id, [workspace_id], annotate=False)
            sources = [self.contacts.get(s, [workspace_id], annotate=False) for s in source_ids]
            record = self._start(workspace_id, target, sources, choices, actor)
            self._claim(record)
            record = self._finish(record)
        return self.public(record), self.contacts.get(target_id, [workspace_id]), True

    def public(self, record: dict) -> dict:
        return {field: record.get(field) for field in RECORD_FIELDS}

    @contextmanager
    def _locks(self, workspace_id: str, contact_ids: list[str]) -> Iterator[None]:
        with ExitStack() as stack:
            for contact_id in sorted(set(contact_ids)):
                key = f"{self.key_prefix}merge:{{{workspace_id}}}:{contact_id}"
                lock = RenewableLock(self.cache, key, LOCK_SECONDS)
                if not lock.acquire():
                    raise Conflict(
                        "Another merge of these contacts is running; retry when it is done.",
                        details=[{"field": "sourceIds", "message": contact_id}],
                    )
                stack.callback(lock.release)
            yield

    def _earlier(self, workspace_id: str, target_id: str, source_ids: list[str]) -> dict | None:
        """The record of this same merge when its sources are claimed already; a 409
        when any source belongs to another merge."""
        claims = self.store.claims_in_force(workspace_id, source_ids)
        if not claims:
            return None
        merge_ids = {claim["mergeId"] for claim in claims.values()}
        record = (
            self.store.find(merge_ids.pop(), [workspace_id], "merge")
            if len(merge_ids) == 1
            else None
        )
        same = (
            record is not None
            and len(claims) == len(source_ids)
            and record["targetId"] == target_id
            and sorted(record["sourceIds"]) == sorted(source_ids)
        )
        if same:
            return record
        source_id = next(iter(claims))
        raise merged_conflict("sourceIds", claims[source_id]["mergedInto"])

    def _start(self, workspace_id, target: Versioned, sources, choices, actor) -> dict:
        record = {
            "kind": "merge",
            "id": "merge_" + secrets.token_urlsafe(12),
            "workspaceId": workspace_id,
            "status": "started",
            "targetId": target.contact["id"],
            "sourceIds": [s.contact["id"] for s in sources],
            "fieldChoices": choices,
            "actor": actor or None,
            "createdAt": utc_now(),
            "completedAt": None,
            "targetBefore": target.contact,
            "sources": [s.contact for s in sources],
            "provenance": None,
        }
        self.store.save(record, op_type="create")
        return record

    def _claim(self, record: dict) -> None:
        workspace_id, claimed = record["workspaceId"], []
        for source_id in sorted(record["sourceIds"]):
            redirect = {
                "kind": "redirect",
                "id": source_id,
                "workspaceId": workspace_id,
                "contactId": source_id,
                "mergeId": record["id"],
                "mergedInto": record["targetId"],
                "createdAt": utc_now(),
            }
            if not self.store.put_claim(redirect):
                winner = self.store.redirect(workspace_id, source_id)
                self._abort(record, claimed)
                raise merged_conflict("sourceIds", winner and winner["mergedInto"]) from None
            claimed.append(source_id)

    def _abort(self, record: dict, claimed: list[str]) -> None:
        """Give back this merge's claims; the record stays, marked aborted."""
        self.store.give_back(record["workspaceId"], claimed)
        record.update(status="aborted", completedAt=utc_now())
        self.store.save(record, refresh="wait_for")

    def _finish(self, record: dict) -> dict:
        """Steps 4 and 5; safe to run again on a record that is started (or completed)."""
        workspace_id = record["workspaceId"]
        snapshots = {source["id"]: source for source in record["sources"]}
        for _ in range(FINISH_RETRIES):
            try:
                target = self.contacts.get(record["targetId"], [workspace_id], annotate=False)
            except NotFound:
                self._abort(record, record["sourceIds"])
                raise NotFound("The target was deleted during the merge.") from None
            present = self._read(workspace_id, record["sourceIds"])
            sources = [
                present[i].contact if i in present else snapshots[i] for i in record["sourceIds"]
            ]
            merged, provenance = combine(target.contact, sources, record["fieldChoices"])
            merged["updatedAt"] = max(utc_now(), target.contact["updatedAt"])
            if not self._write_target(merged, target) or not self._delete_sources(
                workspace_id, present
            ):
                continue  # a concurrent edit: read again, combine again
            self.contacts.settle_dnc_flags(workspace_id, [merged])
            record.update(status="completed", completedAt=utc_now(), provenance=provenance)
            self.store.save(record, refresh="wait_for")
            return record
        raise Conflict("The contacts kept changing during the merge; send it again to finish.")

    def _read(self, workspace_id: str, contact_ids: list[str]) -> dict[str, Versioned]:
        docs = [{"_id": contact_id, "routing": workspace_id} for contact_id in contact_ids]
        result = self.client.mget(
            index=self.contacts.names.read, body={"docs": docs}, realtime=True
        )
        present = {}
        for doc in result["docs"]:
            source = doc.get("_source")
            if doc.get("found") and source.get("workspaceId") == workspace_id:
                present[doc["_id"]] = Versioned(
                    from_source(source), doc["_seq_no"], doc["_primary_term"]
                )
        return present

    def _write_target(self, merged: dict, target: Versioned) -> bool:
        """Compare-and-set of the survivor, with its DNC flag read from the list."""
        workspace_id = merged["workspaceId"]
        self.contacts.annotate(workspace_id, [merged])
        entries = contact_entries("updated", [merged])
        change = self.contacts.changes.begin(workspace_id, entries)
        try:
            self.client.index(
                index=self.contacts.names.write,
                id=merged["id"],
                body=to_document(merged),
                routing=workspace_id,
                if_seq_no=target.seq_no,
                if_primary_term=target.primary_term,
            )
        except ConflictError:
            self.contacts.changes.withdraw(workspace_id, change)
            return False
        self.contacts.changes.commit(workspace_id, change, entries)
        return True

    def _delete_sources(self, workspace_id: str, present: dict[str, Versioned]) -> bool:
        """Compare-and-set deletes, searchable as gone on return; False on a conflict."""
        if not present:
            return True
        entries = contact_entries("deleted", [v.contact for v in present.values()])
        change = self.contacts.changes.begin(workspace_id, entries)
        actions = [
            {
                "_op_type": "delete",
                "_index": self.contacts.names.write,
                "_id": contact_id,
                "routing": workspace_id,
                "if_seq_no": version.seq_no,
                "if_primary_term": version.primary_term,
            }
            for contact_id, version in present.items()
        ]
        _, errors = helpers.bulk(
            self.client, actions, refresh="wait_for", raise_on_error=False, max_retries=0
        )
        # Recorded whatever happened: the change log stores each record's state as it is.
        self.contacts.changes.commit(workspace_id, change, entries)
        conflicts = [e for e in errors if next(iter(e.values())).get("status") == 409]
        others = [e for e in errors if next(iter(e.values())).get("status") not in (404, 409)]
        if others:
            log.warning("merge: %d sources not deleted: %s", len(others), others[:3])
            raise ServiceUnavailable("The merge is not finished; send it again to finish it.")
        return not conflicts

    # --- recovery ---------------------------------------------------------------------

    def recover_forever(self, stop: threading.Event, interval: float) -> None:
        """The worker's loop: one recovery pass every `interval` seconds."""
        while not stop.wait(interval):
            try:
                self.recover()
            except Exception:  # a dead loop would strand started merges: log and go on
                log.exception("merge recovery pass failed; retrying next period")

    def recover(self, older_than_seconds: float = STALE_SECONDS) -> int:
        """Finish (or abort) started merges whose process died; returns how many."""
        settled = 0
        for record in self.store.stale(older_than_seconds):
            ids = [record["targetId"], *record["sourceIds"]]
            try:
                with self._locks(record["workspaceId"], ids):
                    claims = self.store.redirects(record["workspaceId"], record["sourceIds"])
                    ours = [i for i, c in claims.items() if c["mergeId"] == record["id"]]
                    if len(ours) == len(record["sourceIds"]):
                        self._finish(record)
                    else:
                        self._abort(record, ours)
                settled += 1
            except (Conflict, NotFound):
                log.info("merge %s not settled this pass", record["id"])
        return settled
