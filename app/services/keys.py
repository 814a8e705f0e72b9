"""Contact keys: find the contact that holds an external id, phone or email, and the
document id a new contact holding that key is created under.

Why ids derived from the key: a batch upsert must never create two contacts for one key,
even when two calls race. The engine already has a create-if-absent primitive,
`op_type=create` on an `_id`, so a new contact keyed by K is created under
`slot_id(workspace, kind, K, n)`: racing callers compute the same id, exactly one create
succeeds, and the loser's conflict is retried as an update of the winner. No claim
document (a second write that could be orphaned) and no lock are needed, and the batch
stays one bulk request.

A key can leave the contact created under its slot (a PATCH changes the external id or
the phone). That slot is then held by a contact that no longer holds the key, so the
chain goes on: slot n+1, up to MAX_SLOTS. Everyone walks the same chain in the same
order, so racers still meet on the same first free slot.

A contact may also hold a key without sitting in its chain (an external id set by a
PATCH, a phone of a contact created by POST or an import). Those are found by a search
of the keyword field, which sees writes after the next refresh; writes that assign an
external id outside the chain therefore wait for that refresh before they answer
(ContactService.update), so a later lookup finds them. Two such assignments running at
the very same moment are the one case the chain does not order: every write that gives
an external id holds a claim on it meanwhile (app/services/external_ids.py), a batch
call or an import chunk on the ids it is about to give (app/services/external_id_gives.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from opensearchpy import OpenSearch

from app.contact_methods import addresses_of, numbers_of
from app.search.documents import CONTACT_FIELDS, from_source
from app.search.indices import IndexNames

# Where the engine finds each key (already normalized: E.164, lowercase): a phone or an
# email matches any of the contact's numbers or addresses, as an import's dedupe does
# (`phone`/`email` too, for documents written before the lists and not reindexed yet).
SEARCH_FIELDS = {
    "externalId": ("externalId",),
    "phone": ("phones.number", "phone"),
    "email": ("emailAddresses", "email"),
}
HOLDER_SOURCE = ["externalId", "phone", "phones", "email", "emails"]
# Slots tried per key before falling back to a random id (needs 8 reassigned contacts).
MAX_SLOTS = 8
# The key of slot ids when KEY_ID_SECRET is not set (development and tests only).
DEV_SECRET = "dev-only-key-id-secret-change-me"


def held_keys(contact: dict, kind: str) -> list[str]:
    """The values of one key kind a contact holds."""
    if kind == "phone":
        return numbers_of(contact)
    if kind == "email":
        return addresses_of(contact)
    return [contact["externalId"]] if contact.get("externalId") else []


def slot_id(secret: bytes, workspace_id: str, kind: str, value: str, slot: int = 0) -> str:
    """The id of the contact created for (kind, value) in a workspace, at a chain slot.

    128 bits of an HMAC in the same form as a random id. Keyed, because a plain hash of a
    phone number could be reversed by anyone who sees the id (in a log, a URL) and tries
    the few billion numbers of a country."""
    material = "\x00".join((workspace_id, kind, value, str(slot))).encode()
    digest = hmac.new(secret, material, hashlib.sha256).digest()[:16]
    return "contact_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class Stored:
    """A contact as stored, with the version that guards a compare-and-set."""

    contact: dict
    seq_no: int
    primary_term: int

    @property
    def id(self) -> str:
        return self.contact["id"]

    @property
    def version(self) -> tuple[int, int]:
        return self.seq_no, self.primary_term


@dataclass
class Resolution:
    """Who holds a key now (None: nobody), and where a new holder is created."""

    holder: Stored | None
    free_id: str | None


class ContactKeys:
    def __init__(self, client: OpenSearch, names: IndexNames, secret: str | bytes = "") -> None:
        self.client = client
        self.names = names
        # KEY_ID_SECRET: the same in every process, and never changed once keys are used
        # (a new secret moves every slot; lookups then rely on the search alone).
        secret = secret or DEV_SECRET
        self.secret = secret.encode() if isinstance(secret, str) else secret

    def read(self, workspace_id: str, ids: list[str]) -> dict[str, Stored]:
        """Real-time multi-get of a workspace's contacts; ids of other workspaces are absent."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        result = self.client.mget(
            index=self.names.read,
            body={"docs": [{"_id": i} for i in ids]},
            routing=workspace_id,
            realtime=True,
            # Only what from_source reads: the derived search fields stay in the engine.
            _source_includes=list(CONTACT_FIELDS),
        )
        found = {}
        for doc in result["docs"]:
            source = doc.get("_source")
            if doc.get("found") and source and source.get("workspaceId") == workspace_id:
                found[doc["_id"]] = Stored(
                    from_source(source), doc["_seq_no"], doc["_primary_term"]
                )
        return found

    def resolve(self, workspace_id: str, kind: str, values: list[str]) -> dict[str, Resolution]:
        """For each key value: its holder (real-time version) and the free slot for a new one."""
        values = list(dict.fromkeys(values))
        resolved: dict[str, Resolution] = {}
        pending = values
        for slot in range(MAX_SLOTS):
            if not pending:
                break
            ids = {
                value: slot_id(self.secret, workspace_id, kind, value, slot) for value in pending
            }
            stored = self.read(workspace_id, list(ids.values()))
            walking = []
            for value, contact_id in ids.items():
                hit = stored.get(contact_id)
                if hit is None:
                    resolved[value] = Resolution(None, contact_id)
                elif value in held_keys(hit.contact, kind):
                    resolved[value] = Resolution(hit, None)
                else:
                    walking.append(value)  # the slot's contact let go of this key
            pending = walking
        for value in pending:
            resolved[value] = Resolution(None, None)
        outside = [value for value in values if resolved[value].holder is None]
        for value, holder in self._search_holders(workspace_id, kind, outside).items():
            resolved[value] = Resolution(holder, resolved[value].free_id)
        return resolved

    def _search_holders(self, workspace_id: str, kind: str, values: list[str]) -> dict:
        """Holders outside the slot chains, oldest first, re-read in real time (the search
        may lag a write; the compare-and-set needs the current version)."""
        if not values:
            return {}
        wanted = set(values)
        should = [{"terms": {field: values}} for field in SEARCH_FIELDS[kind]]
        result = self.client.search(
            index=self.names.read,
            routing=workspace_id,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"workspaceId": workspace_id}},
                            {"bool": {"should": should, "minimum_should_match": 1}},
                        ]
                    }
                },
                "sort": [{"createdAt": "asc"}, {"id": "asc"}],
                "size": min(10_000, 2 * len(values)),
                "_source": HOLDER_SOURCE,
            },
        )
        first: dict[str, str] = {}
        for hit in result["hits"]["hits"]:
            for value in wanted.intersection(held_keys(hit["_source"], kind)):
                first.setdefault(value, hit["_id"])
        current = self.read(workspace_id, list(set(first.values())))
        return {
            value: current[contact_id]
            for value, contact_id in first.items()
            if contact_id in current and value in held_keys(current[contact_id].contact, kind)
        }
