"""ChangeRecords: the change documents of a write, built from the state the store holds
*after* the write took its numbers (app/services/changes.py says why: whatever order two
writers of one record interleave in, the higher number carries the later state).

The contract: given the first number a write took and the entries it announced, return
one `(seq, document)` per change to store, in entry order; a contact that is gone is a
tombstone, a create that never landed (or was deleted since) is left out, a DNC entry
records what the list says now. Every read is a real-time multi-get (no refresh); an
engine error on any document raises 503 (`UNRECORDED`), so nothing partial is stored.
A writer that knows what it stored passes it as `written`: a record still at that
version is taken from it and only versions are fetched.

A change's `data` is what from_source reads of the stored document (`change_data`),
owned by the change: its lists, entries and custom fields are copies,
so nothing the writer does with its documents afterwards reaches the change, and the
change document is used as built (no second copy of every field). Its bytes are the same
as from_source's followed by a copy of every CONTACT_FIELDS value, the way it was built
before (tests/unit/test_change_records_equivalence.py).

Why its own module: reading the state back and shaping the documents is the I/O-heavy
half of recording a change; the numbering, the in-flight set, settling and paging stay
in ChangeLog, which owns one of these.
"""

from __future__ import annotations

from opensearchpy import OpenSearch

from app.errors import ServiceUnavailable
from app.search.documents import from_source, utc_now
from app.search.indices import IndexNames

UNRECORDED = "The change could not be recorded; retry the request."
# What a writer stored, by contact id: (index, seq_no, primary_term, document).
Written = dict[str, tuple[str, int, int, dict]]
# What a DNC change shows of the entry, besides its number or prefix and `listed`.
DNC_FIELDS = ("reason", "source", "scope", "channel", "expiresAt")


def change_data(source: dict) -> dict:
    """What from_source(source) reads, sharing no list or dict with `source`: from_source
    copies the phone and email entries (entries_of); tags and custom fields, flat by
    schema, are copied here. The change owns it and uses it as built (no second copy of
    every field)."""
    data = from_source(source)
    tags, custom = data["tags"], data["customFields"]
    if tags.__class__ is list:
        data["tags"] = tags.copy()
    if custom.__class__ is dict:
        data["customFields"] = custom.copy()
    return data


def contact_change(contact_id: str, op: str, data: dict, now: str) -> dict:
    """The change document of a contact that exists; `data` (change_data's, or a dict
    with every CONTACT_FIELDS key in that order) becomes the change's own, not copied."""
    return {
        "contactId": contact_id,
        "externalId": data.get("externalId"),
        "at": now,
        "type": f"contact.{op}",
        "data": data,
    }


class ChangeRecords:
    def __init__(self, client: OpenSearch, contacts: IndexNames, dnc: IndexNames) -> None:
        self.client = client
        self.contacts = contacts
        self.dnc = dnc

    def contact_documents(
        self, workspace_id: str, first: int, entries: list[list], written: Written | None = None
    ) -> list[tuple[int, dict]]:
        """State read back after the numbers were taken (see the module docstring)."""
        ids = [e[0] for e in entries]
        if written:
            current = self.read_unless_written(workspace_id, ids, written)
        else:
            current = self.read_contacts(workspace_id, ids)
        now, docs, recorded = utc_now(), [], set()
        for offset, (contact_id, op, external_id) in enumerate(entries):
            state = current.get(contact_id)
            if state is not None:
                if contact_id in recorded:  # a second change of it: its own data too
                    state = change_data(state)
                recorded.add(contact_id)
                # A delete that finds its contact again lost to a re-create of the id.
                doc = contact_change(contact_id, "updated" if op == "deleted" else op, state, now)
            elif op == "created":
                continue  # a create deleted since (its tombstone follows) or never stored
            else:
                doc = {
                    "contactId": contact_id,
                    "externalId": external_id,
                    "at": now,
                    "type": "contact.deleted",
                }
            docs.append((first + offset, doc))
        return docs

    def dnc_documents(
        self, workspace_id: str, first: int, entries: list[list]
    ) -> list[tuple[int, dict]]:
        """Each entry's state read back from the list (real time), as for contacts."""
        result = self.client.mget(
            index=self.dnc.read,
            body={"docs": [{"_id": e[0], "routing": workspace_id} for e in entries]},
            realtime=True,
        )
        now, docs = utc_now(), []
        for offset, ((_, op, value, kind), doc) in enumerate(
            zip(entries, result["docs"], strict=True)
        ):
            if doc.get("error"):
                raise ServiceUnavailable(f"{UNRECORDED} ({doc['error'].get('type')})")
            entry = doc.get("_source") if doc.get("found") else None
            if (entry is not None) != (op in ("added", "updated")):
                # A later write of the entry won the race: record what the list says.
                op = "updated" if entry is not None else "removed"
            data = {"phone" if kind == "exact" else "prefix": value, "listed": entry is not None}
            if kind != "exact":
                data["rule"] = kind
            for field in DNC_FIELDS:
                if entry and entry.get(field) is not None:
                    data[field] = entry[field]
            phone = value if kind == "exact" else None
            docs.append(
                (first + offset, {"type": f"dnc.{op}", "phone": phone, "data": data, "at": now})
            )
        return docs

    def read_unless_written(
        self, workspace_id: str, ids: list[str], written: Written
    ) -> dict[str, dict]:
        """The current state of each contact (as change_data): the document the writer
        stored when the record is still at the version it wrote (real-time versions, no
        sources), else read in full. The index takes part in the match: during a reindex
        the read alias may name another index, whose versions say nothing of this write."""
        result = self.client.mget(
            index=self.contacts.read,
            body={"docs": [{"_id": i, "routing": workspace_id} for i in ids]},
            realtime=True,
            _source="false",
        )
        found, stale = {}, []
        for doc in result["docs"]:
            if doc.get("error"):
                raise ServiceUnavailable(f"{UNRECORDED} ({doc['error'].get('type')})")
            if not doc.get("found"):
                continue
            known = written.get(doc["_id"])
            version = (doc.get("_index"), doc.get("_seq_no"), doc.get("_primary_term"))
            if known and known[:3] == version and known[3].get("workspaceId") == workspace_id:
                found[doc["_id"]] = change_data(known[3])
            else:
                stale.append(doc["_id"])
        if stale:
            found.update(self.read_contacts(workspace_id, stale))
        return found

    def read_contacts(self, workspace_id: str, ids: list[str]) -> dict[str, dict]:
        """Each contact's state read in full, real time (as change_data)."""
        result = self.client.mget(
            index=self.contacts.read,
            body={"docs": [{"_id": i, "routing": workspace_id} for i in ids]},
            realtime=True,
            _source_excludes="phoneDigits,fullNameExact",
        )
        found = {}
        for doc in result["docs"]:
            if doc.get("error"):
                raise ServiceUnavailable(f"{UNRECORDED} ({doc['error'].get('type')})")
            source = doc.get("_source")
            if doc.get("found") and source and source.get("workspaceId") == workspace_id:
                found[doc["_id"]] = change_data(source)
        return found
