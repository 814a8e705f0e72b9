"""BatchService: create, update, upsert, read and delete up to 1,000 contacts per call.

The contract:
- One result per item, in input order: `created`, `updated`, `unchanged` (the merge
  changed nothing, so nothing was written), `found`, `deleted`, `not_found` or `invalid`
  (with the error in the one error shape). A bad item never fails the others.
- One bulk request of contacts per call, after the reads that resolve the items (a
  real-time multi-get, and a search for keys held outside their slots; see
  app/services/keys.py). Items that lose a race are planned again and sent in one more
  bulk, at most UPDATE_RETRIES times; an item still conflicting then is `invalid`
  (409, retry it). Besides it, only what every contact write pays: the change feed's
  record of the stored writes (app/services/changes.py; announced before the bulk;
  recorded from the documents the bulk stored, at the versions it answered, unless a
  later write moved them) and, rarely, the DNC flag correction of settle_dnc_flags.
- Updates are compare-and-set on the version read (if_seq_no/if_primary_term), like
  ContactService.update; creates use `op_type=create`, under the key's slot id when the
  contact has an external id (create) or the upsert key (upsert): two calls upserting the
  same key meet on one id and exactly one creates it.
- A key (an id, an external id, an upsert key) repeated within one call: the first item
  is processed, every later one is `invalid` with code `duplicate_item`. Applying both
  would make the result depend on an order the caller may not have meant.
- The DNC flag of every written contact is read from the list before the bulk and again
  after it (ContactService.prepare_bulk / settle_dnc_flags, the import's path), so a
  number listed meanwhile is never shown callable.
- Validation and merging are ContactService's own (prepare_fields, prepare_new, merge),
  so a batch item is held to exactly the rules of a single create or PATCH.
- The external ids the items are about to give (a create under one, a move onto a
  contact that does not hold it) are claimed in the plan, in one Redis round trip, and
  their holders read again (app/services/external_id_gives.py); items that keep their
  contact's id take none. An id still claimed elsewhere makes only its item `invalid`
  (409, retry it). The claims are freed when the call ends, after its last bulk (and the
  refresh that makes an id given outside its chain searchable).
- read (and the references read and delete resolve) is app/services/batch_reads.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opensearchpy import OpenSearch

from app.errors import Conflict, ValidationError
from app.schemas.batch import (
    CreateItemSchema,
    UpdateItemSchema,
    UpsertItemSchema,
)
from app.schemas.loaders import compile_loader
from app.search.bulk_bodies import BULK_REPLY, bulk_body
from app.search.documents import utc_now
from app.services.batch_reads import BatchReads
from app.services.batch_results import (
    Batch,
    DuplicateItem,
    Write,
    bulk_lines,
    changed,
    refresh_for_external_ids,
    refused,
)
from app.services.change_records import Written
from app.services.changes import contact_entries
from app.services.contact_rules import external_id_taken, new_contact_id, prepare_fields
from app.services.contacts import UPDATE_RETRIES, ContactService
from app.services.external_id_gives import GiveClaims
from app.services.keys import Stored

# Precompiled from the item schemas (app/schemas/loaders.py): the same results as their
# `load`, a fraction of the cost for the valid items that make up a batch.
ITEM_SCHEMAS = {
    "create": compile_loader(CreateItemSchema),
    "update": compile_loader(UpdateItemSchema),
    "upsert": compile_loader(UpsertItemSchema),
}
# Bulk item statuses that mean "plan this item again": a lost race, a full write queue.
RETRYABLE = (409, 429)
# A bulk of 1,000 analyzed documents takes longer than the page reads the client's default
# timeout is sized for; still well inside the web worker's timeout.
BULK_TIMEOUT_SECONDS = 30
# Pause before writing again items the engine refused as overloaded (429), per round.
OVERLOAD_BACKOFF_SECONDS = 0.25


class BatchService(BatchReads):
    def __init__(self, client: OpenSearch, contacts: ContactService) -> None:
        self.client = client
        self.contacts = contacts
        self.keys = contacts.keys
        self.names = contacts.names

    # --- the five calls ------------------------------------------------------------

    def create(self, workspace_id: str, items: list, *, refresh: str | None = None) -> dict:
        batch = Batch(items)
        pending = {}
        for index in range(len(items)):
            data = batch.load(index, ITEM_SCHEMAS["create"])
            if data is not None:
                batch.attempt(index, pending, lambda d=data: self._new(workspace_id, d))
        external = batch.first_of_each(
            {i: c["externalId"] for i, c in pending.items() if c.get("externalId")}
        )
        pending = {i: c for i, c in pending.items() if i in external or not c.get("externalId")}
        claims = self._claims(workspace_id)

        def plan(todo: dict[int, dict]) -> list[Write]:
            held = self.keys.resolve(
                workspace_id,
                "externalId",
                [c["externalId"] for c in todo.values() if c.get("externalId")],
            )
            held.update(claims.take_free(held))
            writes = []
            for index, contact in todo.items():
                if contact.get("externalId"):
                    found = held[contact["externalId"]]
                    if contact["externalId"] in claims.refused:
                        batch.invalid(index, claims.refused[contact["externalId"]])
                        continue
                    if found.holder is not None:
                        batch.invalid(index, external_id_taken())
                        continue
                    contact["id"] = found.free_id or new_contact_id()
                writes.append(self._create(index, contact))
            return writes

        with claims:
            self._rounds(workspace_id, batch, pending, plan, refresh)
        return batch.response()

    def update(self, workspace_id: str, items: list, *, refresh: str | None = None) -> dict:
        batch = Batch(items)
        pending = {}
        for index in range(len(items)):
            data = batch.load(index, ITEM_SCHEMAS["update"])
            if data is not None:
                contact_id = data.pop("id")
                batch.attempt(index, pending, lambda d=data: self._changes(d))
                if index in pending:
                    pending[index]["id"] = contact_id
        ids = batch.first_of_each({i: c["id"] for i, c in pending.items()})
        pending = {i: c for i, c in pending.items() if i in ids}
        external = batch.first_of_each(
            {i: c["externalId"] for i, c in pending.items() if c.get("externalId")}
        )
        pending = {i: c for i, c in pending.items() if i in external or not c.get("externalId")}
        claims = self._claims(workspace_id)

        def plan(todo: dict[int, dict]) -> list[Write]:
            stored = self.keys.read(workspace_id, [c["id"] for c in todo.values()])
            targets = {}
            for index, changes in todo.items():
                if changes["id"] in stored:
                    targets[index] = (stored[changes["id"]], changes)
                else:
                    batch.done(index, "not_found", id_=changes["id"])
            return self._merges(workspace_id, batch, targets, claims)

        refresh = refresh_for_external_ids(pending.values(), refresh)
        with claims:
            self._rounds(workspace_id, batch, pending, plan, refresh)
        return batch.response()

    def upsert(
        self, workspace_id: str, key: str, items: list, *, refresh: str | None = None
    ) -> dict:
        batch = Batch(items)
        pending = {}
        for index in range(len(items)):
            data = batch.load(index, ITEM_SCHEMAS["upsert"])
            if data is None:
                continue
            if not data.get(key):
                message = f"Every item needs its {key} (the call's key)."
                batch.invalid(index, ValidationError(message, [{"field": key, "message": message}]))
                continue
            batch.attempt(index, pending, lambda d=data: self._changes(d))
        keyed = batch.first_of_each({i: c[key] for i, c in pending.items()})
        pending = {i: c for i, c in pending.items() if i in keyed}
        external = batch.first_of_each(
            {i: c["externalId"] for i, c in pending.items() if c.get("externalId")}
        )
        pending = {i: c for i, c in pending.items() if i in external or not c.get("externalId")}
        claims = self._claims(workspace_id)

        def plan(todo: dict[int, dict]) -> list[Write]:
            held = self.keys.resolve(workspace_id, key, [c[key] for c in todo.values()])
            if key == "externalId":  # a key nobody holds is about to be given
                held.update(claims.take_free(held))
            targets, writes, taken = {}, [], set()
            for index, changes in todo.items():
                found = held[changes[key]]
                if key == "externalId" and changes[key] in claims.refused:
                    batch.invalid(index, claims.refused[changes[key]])
                elif found.holder is None:
                    # From the fields normalized while loading: phones are parsed once.
                    contact = batch.attempt(
                        index,
                        None,
                        lambda c=changes: self.contacts.new_contact(
                            {**c, "workspaceId": workspace_id}
                        ),
                    )
                    if contact is not None:
                        contact["id"] = found.free_id or new_contact_id()
                        if contact.get("externalId") and key != "externalId":
                            targets[index] = (None, contact)  # its external id is checked
                        else:
                            writes.append(self._create(index, contact))
                elif found.holder.id in taken:  # two keys of one contact (several phones)
                    batch.invalid(index, DuplicateItem())
                else:
                    taken.add(found.holder.id)
                    # The key found the contact; it does not also make a secondary number
                    # or address the primary one.
                    targets[index] = (found.holder, {k: v for k, v in changes.items() if k != key})
            return writes + self._merges(workspace_id, batch, targets, claims)

        if key != "externalId":
            refresh = refresh_for_external_ids(pending.values(), refresh)
        with claims:
            self._rounds(workspace_id, batch, pending, plan, refresh)
        return batch.response()

    def delete(self, workspace_id: str, items: list, *, refresh: str | None = None) -> dict:
        batch = Batch(items)
        refs = self._refs(batch)

        def plan(todo: dict[int, dict]) -> list[Write]:
            found = self._find(workspace_id, todo)
            writes, taken = [], set()
            for index, ref in todo.items():
                stored = found.get(index)
                if stored is None:
                    batch.done(index, "not_found", id_=ref.get("id"))
                elif stored.id in taken:  # the same contact by its id and its external id
                    batch.invalid(index, DuplicateItem(), stored.id)
                else:
                    taken.add(stored.id)
                    action = {
                        "_op_type": "delete",
                        "_index": self.names.write,
                        "_id": stored.id,
                        "routing": workspace_id,
                        "if_seq_no": stored.seq_no,
                        "if_primary_term": stored.primary_term,
                    }
                    writes.append(Write(index, "deleted", action, gone=stored.contact))
            return writes

        self._rounds(workspace_id, batch, refs, plan, refresh)
        return batch.response()

    # --- planning ----------------------------------------------------------------

    def _claims(self, workspace_id: str) -> GiveClaims:
        return GiveClaims(self.contacts.claims, self.keys, workspace_id)

    def _new(self, workspace_id: str, data: dict) -> dict:
        return self.contacts.prepare_new({**data, "workspaceId": workspace_id})

    def _changes(self, data: dict) -> dict:
        country = data.get("defaultCountry") or self.contacts.default_country
        return prepare_fields(data, country)

    def _create(self, index: int, contact: dict) -> Write:
        action = self.contacts.bulk_action(contact)
        action["_op_type"] = "create"
        return Write(index, "created", action, contact)

    def _merges(
        self,
        workspace_id: str,
        batch: Batch,
        targets: dict[int, tuple[Stored | None, dict]],
        claims: GiveClaims,
    ) -> list[Write]:
        """Writes that apply changes to stored contacts (compare-and-set), or create the
        contacts of `(None, contact)` pairs, once each new external id is known free (and
        claimed: it is about to be given)."""
        merged: dict[int, tuple[Stored | None, dict]] = {}
        for index, (stored, changes) in targets.items():
            if stored is None:
                merged[index] = (None, changes)
                continue
            changes = {k: v for k, v in changes.items() if k != "id"}
            contact = batch.attempt(
                index, None, lambda s=stored, c=changes: self.contacts.merge(s.contact, c)
            )
            if contact is None:
                continue
            if not changed(stored.contact, contact):
                batch.done(index, "unchanged", stored.contact)
                continue
            contact["updatedAt"] = max(utc_now(), stored.contact["updatedAt"])
            merged[index] = (stored, contact)
        moving = {
            index: contact["externalId"]
            for index, (stored, contact) in merged.items()
            if contact.get("externalId")
            and (stored is None or contact["externalId"] != stored.contact.get("externalId"))
        }
        held = self.keys.resolve(workspace_id, "externalId", list(moving.values()))
        held.update(claims.take(x for x, found in held.items() if found.holder is None))
        writes = []
        for index, (stored, contact) in merged.items():
            holder = held[moving[index]].holder if index in moving else None
            if index in moving and moving[index] in claims.refused:
                refused_id = contact["id"] if stored else None
                batch.invalid(index, claims.refused[moving[index]], refused_id)
            elif holder is not None and holder.id != contact["id"]:
                batch.invalid(index, external_id_taken(), contact["id"] if stored else None)
            elif stored is None:
                writes.append(self._create(index, contact))
            else:
                action = self.contacts.bulk_action(contact, stored.version)
                writes.append(Write(index, "updated", action, contact))
        return writes

    # --- writing -----------------------------------------------------------------

    def _rounds(
        self,
        workspace_id: str,
        batch: Batch,
        pending: dict[int, dict],
        plan: Callable[[dict[int, dict]], list[Write]],
        refresh: str | None,
    ) -> None:
        """Plan, write in one bulk, and plan again the items that lost a race."""
        overloaded = False
        for round_no in range(UPDATE_RETRIES):
            if not pending:
                break
            if overloaded:
                time.sleep(OVERLOAD_BACKOFF_SECONDS * 2**round_no)
            writes = plan(pending)
            retry, overloaded = self._send(workspace_id, batch, writes, refresh)
            pending = {index: pending[index] for index in retry}
        for index in pending:
            message = "The contact kept changing during the call; retry."
            if overloaded:
                message = "The engine was overloaded; retry the item later."
            batch.invalid(index, Conflict(message))
        # Contacts answered without a write still show the list's current DNC flag.
        unchanged = [r["contact"] for r in batch.results if r and r["status"] == "unchanged"]
        self.contacts.annotate(workspace_id, unchanged)

    def _send(
        self, workspace_id: str, batch: Batch, writes: list[Write], refresh: str | None
    ) -> tuple[list[int], bool]:
        """One bulk request; each item's result recorded. Returns the items to plan again,
        and whether the engine refused any as overloaded."""
        if not writes:
            return [], False
        sources = [w for w in writes if w.contact is not None]
        self.contacts.prepare_bulk(workspace_id, [w.action for w in sources], dry_run=False)
        # The change feed hears of the writes before the bulk and records the stored ones
        # after it (app/services/changes.py), as a single write or an import does.
        entries = [contact_entries(w.status, [w.contact or w.gone])[0] for w in writes]
        change = self.contacts.changes.begin(workspace_id, entries)
        body = bulk_lines(workspace_id, writes)
        # A failed bulk may still have landed (a timeout): the announcement stays, and a
        # feed reader records the items' state once it is CHANGES_SETTLE_SECONDS old.
        reply = self.client.bulk(
            body=bulk_body(body, self.client.transport.serializer),
            refresh=refresh or "false",
            request_timeout=BULK_TIMEOUT_SECONDS,
            filter_path=BULK_REPLY,
        )
        retry, saved, recorded, overloaded = [], [], [], False
        written: Written = {}  # what the feed can record without reading it back
        for write, entry, item in zip(writes, entries, reply["items"], strict=True):
            info = next(iter(item.values()))
            status = info.get("status", 500)
            if status < 300:
                batch.done(write.index, write.status, write.contact, write.action["_id"])
                recorded.append(entry)
                if write.contact is not None:
                    saved.append(write.contact)
                    version = (info.get("_index"), info.get("_seq_no"), info.get("_primary_term"))
                    written[write.action["_id"]] = (*version, write.action["_source"])
            elif status == 404 and write.status == "deleted":
                batch.done(write.index, "not_found", id_=write.action["_id"])
            elif status in RETRYABLE:
                retry.append(write.index)
                overloaded = overloaded or status == 429
            else:
                batch.invalid(write.index, refused(info), write.action["_id"])
        self.contacts.settle_dnc_flags(workspace_id, saved)
        self.contacts.changes.commit(workspace_id, change, recorded, written=written)
        return retry, overloaded
