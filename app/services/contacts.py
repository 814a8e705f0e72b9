"""ContactService: create, read, update, delete and list contacts in OpenSearch.

The service does the engine's I/O: compare-and-set writes guarded by the version
(ETag), each announced to and recorded in the change feed, the DNC flag read from the
list before and settled after a write, real-time reads routed to the token's
workspaces, and newest-first listing (app/services/contact_listing.py). An external id
given outside its key chain is claimed while it is checked and written
(app/services/external_ids.py). The rules a contact obeys whatever path writes it
(field normalization, identity, ETags, the exact `dnc` filter) are pure functions in
app/services/contact_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from marshmallow import ValidationError as SchemaValidationError
from opensearchpy import ConflictError, NotFoundError, OpenSearch

from app.contact_methods import apply_changes, without_methods
from app.errors import NotFound, PreconditionFailed, ValidationError
from app.schemas.contacts import ContactCreateSchema
from app.schemas.loaders import compile_loader
from app.search import cursors
from app.search.documents import from_source, to_document, utc_now
from app.search.indices import IndexNames
from app.services.change_writes import NewRecordWriter
from app.services.changes import NO_CHANGES, ChangeLog, contact_entries
from app.services.contact_listing import ContactListing
from app.services.contact_rules import (
    Versioned,
    external_id_taken,
    new_contact_id,
    parse_etag,
    prepare_fields,
    require_identity,
)
from app.services.external_ids import NO_CLAIMS, ExternalIdClaims
from app.services.keys import ContactKeys

# Built once, precompiled from the schema (app/schemas/loaders.py): import rows and
# scripts get the schema's exact results at a fraction of its per-row cost.
LOAD_CREATE = compile_loader(ContactCreateSchema)
OPTIONAL_FIELDS = ("firstName", "lastName", "phone", "email", "company", "notes")
KEY_FIELDS = ("externalId", "source")  # optional too; the external id is unique
# Concurrent PATCHes of one contact retry the read-merge-write this many times.
UPDATE_RETRIES = 5


class ContactService(ContactListing):
    def __init__(
        self,
        client: OpenSearch,
        index_prefix: str,
        default_country: str = "US",
        annotate: Callable[[str, list[dict]], None] | None = None,
        *,
        cursor_key: str | bytes | None = None,
        changes: ChangeLog | None = None,
        key_secret: str | bytes = "",
        claims: ExternalIdClaims | None = None,
    ) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "contacts")
        # Every write is announced before and recorded after (app/services/changes.py).
        self.changes = changes or NO_CHANGES
        self.keys = ContactKeys(client, self.names, key_secret)
        # Without Redis (scripts, baselines) no claims are taken (external_ids.py).
        self.claims = claims or NO_CLAIMS
        self.new_records = NewRecordWriter(client, self.changes)
        self.default_country = default_country
        # Only services that page (the API's) need a key; writers (imports, scripts) do not.
        self.cursors = cursors.CursorCodec(cursor_key) if cursor_key else None
        # Adds derived read-time fields (e.g. the DNC flag) to a page of contacts.
        self.annotate = annotate or (lambda workspace_id, contacts: None)

    # --- validation shared by HTTP, import and scripts -----------------------

    def validate_new(self, payload: dict, default_country: str | None = None) -> dict:
        """Full validation of a raw create payload (what import and scripts call)."""
        try:
            data = LOAD_CREATE(payload)
        except SchemaValidationError as exc:
            raise ValidationError.from_messages(exc.messages) from exc
        return self.prepare_new(data, default_country)

    def prepare_new(self, data: dict, default_country: str | None = None) -> dict:
        return self.new_contact(prepare_fields(data, default_country or self.default_country))

    def new_contact(self, prepared: dict) -> dict:
        """A new contact from fields prepare_fields already normalized (with workspaceId)."""
        now = utc_now()
        contact = {f: prepared.get(f) for f in (*OPTIONAL_FIELDS, *KEY_FIELDS)}
        contact.update(phone=None, email=None)
        apply_changes(contact, prepared)  # phones/emails and their primary phone/email
        require_identity(contact)
        contact.update(
            id=new_contact_id(),
            workspaceId=prepared["workspaceId"],
            tags=prepared.get("tags") or [],
            customFields=prepared.get("customFields") or {},
            createdAt=now,
            updatedAt=now,
        )
        return contact

    # --- writes ---------------------------------------------------------------

    def create(self, data: dict, *, refresh: str | None = None) -> Versioned:
        contact = self.prepare_new(data)
        workspace_id = contact["workspaceId"]
        if contact.get("externalId"):
            # A PATCH giving another contact this id would not be in its chain yet.
            with self.claims.claim(workspace_id, contact["externalId"]):
                contact["id"] = self.external_id_slot(workspace_id, contact["externalId"])
                return Versioned(contact, *self._create_keyed(contact, refresh))
        # `dnc` is indexed too (the search filter), so it is computed before the write.
        self.annotate(workspace_id, [contact])
        entries, document = contact_entries("created", [contact]), to_document(contact)
        # A new random id: the contact and its change in one _bulk (change_writes.py).
        action = {"_index": self.names.write, "_id": contact["id"], "routing": workspace_id}
        (item,) = self.new_records.write(
            workspace_id,
            entries,
            [{"create": action}, document],
            {contact["id"]: document},
            refresh=refresh or "false",
        )
        if "error" in item:  # 409: this bulk's own first attempt (a retry) stored it
            stored = self.get(contact["id"], [workspace_id], annotate=False)
            item = {"_seq_no": stored.seq_no, "_primary_term": stored.primary_term}
        self.settle_dnc_flags(workspace_id, [contact])
        return Versioned(contact, item["_seq_no"], item["_primary_term"])

    def _create_keyed(self, contact: dict, refresh: str | None) -> tuple[int, int]:
        """A create under an externalId's id, which another writer may also write: the
        feed's usual order (number after the write, state read back)."""
        workspace_id = contact["workspaceId"]
        self.annotate(workspace_id, [contact])
        entries, document = contact_entries("created", [contact]), to_document(contact)
        change = self.changes.begin(workspace_id, entries)
        try:
            result = self.client.index(
                index=self.names.write,
                id=contact["id"],
                body=document,
                routing=workspace_id,
                op_type="create",
                refresh=refresh or "false",
            )
        except ConflictError:
            self.changes.withdraw(workspace_id, change)
            raise external_id_taken() from None  # a concurrent create took the slot
        version = (result["_seq_no"], result["_primary_term"])
        self.settle_dnc_flags(workspace_id, [contact])
        # The feed records this document unless the record moved on (changes.py).
        written = {contact["id"]: (result["_index"], *version, document)}
        self.changes.commit(workspace_id, change, entries, written=written)
        return version

    def update(
        self,
        contact_id: str,
        workspaces: Iterable[str],
        changes: dict,
        *,
        if_match: str | None = None,
        refresh: str | None = None,
    ) -> Versioned:
        expected = parse_etag(if_match)
        changes = prepare_fields(changes, changes.get("defaultCountry") or self.default_country)
        for _ in range(UPDATE_RETRIES):
            current = self.get(contact_id, workspaces, annotate=False)
            if expected and expected != (current.primary_term, current.seq_no):
                raise PreconditionFailed()
            contact = self.merge(current.contact, changes)
            if contact.get("externalId") == current.contact.get("externalId"):
                written = self._write_update(current, contact, refresh, bool(expected))
            else:
                # Held across the check, the write and its refresh (external_ids.py).
                with self.claims.claim(contact["workspaceId"], contact.get("externalId")):
                    self.require_free_external_id(contact, contact_id)
                    # Searchable before the answer, so the next check finds it (keys.py).
                    now = "true" if refresh == "true" else "wait_for"
                    written = self._write_update(current, contact, now, bool(expected))
            if written is not None:
                return written
        raise PreconditionFailed("The contact is being edited concurrently; retry.")

    def _write_update(
        self, current: Versioned, contact: dict, refresh: str | None, pinned: bool
    ) -> Versioned | None:
        """Compare-and-set on the version read: None when a concurrent edit got there
        first (the caller re-reads and re-applies its fields on top), 412 if `pinned`."""
        contact["updatedAt"] = max(utc_now(), current.contact["updatedAt"])
        self.annotate(contact["workspaceId"], [contact])
        entries = contact_entries("updated", [contact])
        change = self.changes.begin(contact["workspaceId"], entries)
        try:
            result = self.client.index(
                index=self.names.write,
                id=contact["id"],
                body=to_document(contact),
                routing=contact["workspaceId"],
                if_seq_no=current.seq_no,
                if_primary_term=current.primary_term,
                refresh=refresh or "false",
            )
        except ConflictError:
            self.changes.withdraw(contact["workspaceId"], change)
            if pinned:
                raise PreconditionFailed() from None
            return None
        self.settle_dnc_flags(contact["workspaceId"], [contact])
        self.changes.commit(contact["workspaceId"], change, entries)
        return Versioned(contact, result["_seq_no"], result["_primary_term"])

    def delete(
        self,
        contact_id: str,
        workspaces: Iterable[str],
        *,
        if_match: str | None = None,
        refresh: str | None = None,
    ) -> None:
        expected = parse_etag(if_match)
        current = self.get(contact_id, workspaces, annotate=False)
        kwargs = {}
        if expected:
            if expected != (current.primary_term, current.seq_no):
                raise PreconditionFailed()
            kwargs = {"if_primary_term": expected[0], "if_seq_no": expected[1]}
        workspace_id = current.contact["workspaceId"]
        entries = contact_entries("deleted", [current.contact])
        change = self.changes.begin(workspace_id, entries)
        try:
            self.client.delete(
                index=self.names.write,
                id=contact_id,
                routing=current.contact["workspaceId"],
                refresh=refresh or "false",
                **kwargs,
            )
        except ConflictError:
            self.changes.withdraw(workspace_id, change)
            raise PreconditionFailed() from None
        except NotFoundError:
            self.changes.withdraw(workspace_id, change)
            raise NotFound() from None
        self.changes.commit(workspace_id, change, entries)

    def merge(self, current: dict, changes: dict) -> dict:
        """`current` with prepared `changes` applied (None clears a field): the one merge
        of PATCH and of the batch update and upsert."""
        contact = {**current, **without_methods(changes)}
        apply_changes(contact, changes)
        contact["tags"] = contact.get("tags") or []
        contact["customFields"] = contact.get("customFields") or {}
        require_identity(contact)
        return contact

    def external_id_slot(self, workspace_id: str, external_id: str) -> str:
        """The id a new contact with this external id gets (409 when the id is in use)."""
        found = self.keys.resolve(workspace_id, "externalId", [external_id])[external_id]
        if found.holder is not None:
            raise external_id_taken()
        return found.free_id or new_contact_id()

    def require_free_external_id(self, contact: dict, own_id: str) -> None:
        value = contact.get("externalId")
        if value:
            holder = self.keys.resolve(contact["workspaceId"], "externalId", [value])[value].holder
            if holder is not None and holder.id != own_id:
                raise external_id_taken()

    def bulk_action(self, contact: dict, version: tuple[int, int] | None = None) -> dict:
        """A bulk action that writes `contact` (prepare_bulk turns it into the document);
        `version` (seq_no, primary_term) makes it a compare-and-set."""
        action = {
            "_op_type": "index",
            "_index": self.names.write,
            "_id": contact["id"],
            "routing": contact["workspaceId"],
            "_source": contact,
        }
        if version:
            action["if_seq_no"], action["if_primary_term"] = version
        return action

    def prepare_bulk(self, workspace_id: str, actions: Iterable[dict], dry_run: bool) -> None:
        """The contacts of bulk actions become their documents, the DNC flag read from the
        list first (one call per batch) — as create and update do for one contact.
        settle_dnc_flags reads the list again once the batch is written."""
        actions = list(actions)
        if not dry_run:
            self.annotate(workspace_id, [action["_source"] for action in actions])
        for action in actions:
            action["_source"] = to_document(action["_source"])

    def settle_dnc_flags(self, workspace_id: str, written: list[dict]) -> None:
        """Re-read the DNC list for contacts just written and correct their indexed flag.

        The flag was computed before the write; a number listed or removed in between
        would leave it stale, and the list's own flag update (DncService._sync_contacts)
        may have run before this write was visible. Reading the list again after the
        write closes that gap. `contact["dnc"]` ends as the list's answer (None when it
        cannot be decided; the reconciler then corrects the indexed flag).
        """
        written = [c for c in written if c.get("phone")]
        if not written:
            return
        indexed = {c["id"]: bool(c.get("dnc")) for c in written}
        self.annotate(workspace_id, written)
        actions = []
        for contact in written:
            flag = contact.get("dnc")
            if flag is not None and flag != indexed[contact["id"]]:
                actions.append({"update": {"_id": contact["id"], "routing": workspace_id}})
                actions.append({"doc": {"dnc": flag}})
        if actions:
            # retry_on_conflict: a concurrent edit re-reads the list after its own write.
            for action in actions[::2]:
                action["update"]["retry_on_conflict"] = 3
            # Rare (a race with a list change), so always made searchable before the
            # write is acknowledged: the contact may already be visible with the old flag.
            self.client.bulk(index=self.names.write, body=actions, refresh="wait_for")

    # --- reads ----------------------------------------------------------------

    def get(
        self, contact_id: str, workspaces: Iterable[str], *, annotate: bool = True
    ) -> Versioned:
        """Real-time read; only the token's workspaces are looked in (404 otherwise).

        Contacts are routed by workspace, so the id alone does not say which shard holds
        it: one multi-get asks each granted workspace's shard, real-time.
        """
        workspaces = sorted(workspaces)
        if not contact_id.startswith("contact_") or len(contact_id) > 64 or not workspaces:
            raise NotFound()
        docs = [{"_id": contact_id, "routing": ws} for ws in workspaces]
        result = self.client.mget(
            index=self.names.read,
            body={"docs": docs},
            realtime=True,
            _source_excludes="phoneDigits",
        )
        for doc in result["docs"]:
            source = doc.get("_source")
            if doc.get("found") and source and source.get("workspaceId") in workspaces:
                contact = from_source(source)
                if annotate:
                    self.annotate(contact["workspaceId"], [contact])
                return Versioned(contact, doc["_seq_no"], doc["_primary_term"])
        raise NotFound()
