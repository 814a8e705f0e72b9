"""What an import row dedupes by, the id its new contact gets, and how a duplicate row
merges into the contact it matches: pure functions of the import pass
(app/services/import_runs.py).

- A row's new contact gets an id derived from the import id and its line number, so a
  resumed import writes the rows in flight again under the same ids.
- A row matches a contact holding its external id, or any of its numbers or addresses.
- Under `update`, a duplicate row never clears a field: its non-empty fields win, every
  number and address is kept (the row's primary becomes the primary), tags and custom
  fields add up.
"""

from __future__ import annotations

import base64
import hashlib

from app.contact_methods import KINDS, addresses_of, entries_of, numbers_of, union
from app.search.documents import utc_now

MERGED_TEXT_FIELDS = ("firstName", "lastName", "phone", "email", "company", "notes")


def row_contact_id(import_id: str, line: int) -> str:
    """The id a row's new contact gets: the same on every attempt of the import."""
    digest = hashlib.sha256(f"{import_id}:{line}".encode()).digest()[:16]
    return "contact_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def dedupe_keys(contact: dict) -> tuple[str, ...]:
    """The external id first (unique per workspace), then every number and every address
    of the contact: a row matches a contact that holds any of them, primary or not."""
    return (
        *(("x:" + contact["externalId"],) if contact.get("externalId") else ()),
        *("p:" + number for number in numbers_of(contact)),
        *("e:" + address for address in addresses_of(contact)),
    )


def merge_into(contact: dict, row_contact: dict) -> dict:
    """An update never clears: the row's non-empty fields win, tags and custom fields add up."""
    merged = dict(contact)
    for name in MERGED_TEXT_FIELDS:
        if row_contact.get(name):
            merged[name] = row_contact[name]
    for kind in KINDS:
        # Every number and address is kept; the row's primary becomes the primary, as
        # the row's `phone` / `email` always replaced the contact's.
        lists = [entries_of(row_contact, kind), entries_of(contact, kind)]
        merged[kind.plural] = union(lists, kind)
        merged[kind.scalar] = next((e[kind.key] for e in merged[kind.plural]), None)
    merged["tags"] = list(dict.fromkeys([*(contact.get("tags") or []), *row_contact["tags"]]))
    merged["customFields"] = {**(contact.get("customFields") or {}), **row_contact["customFields"]}
    merged["updatedAt"] = max(utc_now(), contact.get("updatedAt") or "")
    return merged
