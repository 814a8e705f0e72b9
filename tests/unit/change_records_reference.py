"""Frozen copies of how a contact's change document was built before change_data (commit
20757c2): from_source (with the entries_of it called) read the stored document, then
contact_change copied every CONTACT_FIELDS value of that again into `data`.
tests/unit/test_change_records_equivalence.py compares the live code with these; nothing
else imports this module.

CONTACT_FIELDS is deliberately the live tuple: a field added to it without change_data
makes the comparison fail, instead of the two drifting apart silently."""

from __future__ import annotations

from app.search.documents import CONTACT_FIELDS

DEFAULT_TYPE = "other"


def entries_of(contact: dict, plural: str, scalar: str, key: str) -> list[dict]:
    entries = contact.get(plural)
    if entries:
        return [dict(entry) for entry in entries]
    value = contact.get(scalar)
    if value:
        return [{key: value, "type": DEFAULT_TYPE, "primary": True}]
    return []


def from_source(source: dict) -> dict:
    contact = {field: source.get(field) for field in CONTACT_FIELDS}
    contact["tags"] = contact["tags"] or []
    contact["customFields"] = contact["customFields"] or {}
    contact["phones"] = entries_of(source, "phones", "phone", "number")
    contact["emails"] = entries_of(source, "emails", "email", "address")
    return contact


def contact_change(contact_id: str, op: str, state: dict, now: str) -> dict:
    return {
        "contactId": contact_id,
        "externalId": state.get("externalId"),
        "at": now,
        "type": f"contact.{op}",
        "data": {f: state.get(f) for f in CONTACT_FIELDS},
    }
