"""Frozen copies of the per-document code as it was before the fast paths (commit
255d8fd): the document builder, the name sound codes, the phone and email list merge,
new_contact and merge. tests/unit/test_documents_equivalence.py compares the live code
with these on generated and hostile contacts; nothing else imports this module."""

from __future__ import annotations

from app.contact_methods import (
    DEFAULT_TYPE,
    EMAILS,
    KINDS,
    PHONES,
    Kind,
    _primary,
    entries_of,
    settle,
)
from app.errors import ValidationError
from app.phones import country_calling_code, digits
from app.search.documents import CONTACT_FIELDS, full_name
from app.search.names import sound, words_of
from app.services.contact_rules import require_identity

OPTIONAL_FIELDS = ("firstName", "lastName", "phone", "email", "company", "notes")
KEY_FIELDS = ("externalId", "source")


def sounds_of(name: str | None) -> list[str]:
    return list(dict.fromkeys(c for w in words_of(name) if (c := sound(w))))


def phone_variants(e164: str | None) -> list[str]:
    if not e164:
        return []
    all_digits = digits(e164)
    return list(dict.fromkeys([all_digits, all_digits[len(country_calling_code(e164)) :]]))


def _stored(entry: dict, key: str) -> dict:
    return {key: entry[key], "type": entry["type"], "primary": entry["primary"]}


def derived_method_fields(source: dict) -> dict:
    phones = [_stored(entry, "number") for entry in entries_of(source, PHONES)]
    emails = [_stored(entry, "address") for entry in entries_of(source, EMAILS)]
    variants = [v for entry in phones for v in phone_variants(entry["number"])]
    return {
        "phones": phones,
        "emails": emails,
        "phoneDigits": list(dict.fromkeys(variants)),
        "emailAddresses": [entry["address"] for entry in emails],
    }


def derived_name_fields(source: dict) -> dict:
    return {
        "firstNameSounds": sounds_of(source.get("firstName")),
        "lastNameSounds": sounds_of(source.get("lastName")),
    }


def to_document(contact: dict) -> dict:
    document = {field: contact.get(field) for field in CONTACT_FIELDS}
    document.update(derived_method_fields(contact))
    document["fullNameExact"] = full_name(contact)
    document.update(derived_name_fields(contact))
    document["dnc"] = bool(contact.get("dnc"))
    return document


def without_methods(changes: dict) -> dict:
    names = {name for kind in KINDS for name in (kind.scalar, kind.plural)}
    return {key: value for key, value in changes.items() if key not in names}


def _with_primary(entries: list[dict], value: str | None, kind: Kind) -> list[dict]:
    rest = [e for e in entries if not e["primary"]]
    if value is None:
        return settle(rest, kind)
    held = next((e for e in entries if e[kind.key] == value), None)
    old = held or next((e for e in entries if e["primary"]), None)
    entry_type = old["type"] if old else DEFAULT_TYPE
    primary = {kind.key: value, "type": entry_type, "primary": True}
    others = [{**e, "primary": False} for e in rest if e[kind.key] != value]
    return settle([primary, *others], kind)


def apply_changes(current: dict, changes: dict) -> None:
    for kind in KINDS:
        entries = entries_of(current, kind)
        if kind.plural in changes:
            entries = list(changes[kind.plural] or [])
            if kind.scalar in changes and changes[kind.scalar] != _primary(entries, kind):
                raise ValidationError(
                    details=[
                        {
                            "field": kind.scalar,
                            "message": f"Differs from the primary entry of {kind.plural}; "
                            f"send one of them, or make them agree.",
                        }
                    ]
                )
        elif kind.scalar in changes:
            entries = _with_primary(entries, changes[kind.scalar], kind)
        current[kind.plural] = entries
        current[kind.scalar] = _primary(entries, kind)


def new_contact(prepared: dict, *, contact_id: str, now: str) -> dict:
    """ContactService.new_contact with its id and clock given (they are random/time)."""
    contact = {f: prepared.get(f) for f in (*OPTIONAL_FIELDS, *KEY_FIELDS)}
    contact.update(phone=None, email=None)
    apply_changes(contact, prepared)
    require_identity(contact)
    contact.update(
        id=contact_id,
        workspaceId=prepared["workspaceId"],
        tags=prepared.get("tags") or [],
        customFields=prepared.get("customFields") or {},
        createdAt=now,
        updatedAt=now,
    )
    return contact


def merge(current: dict, changes: dict) -> dict:
    contact = {**current, **without_methods(changes)}
    apply_changes(contact, changes)
    contact["tags"] = contact.get("tags") or []
    contact["customFields"] = contact.get("customFields") or {}
    require_identity(contact)
    return contact


def numbers_of(contact: dict) -> list[str]:
    return [entry["number"] for entry in entries_of(contact, PHONES)]


def addresses_of(contact: dict) -> list[str]:
    return [entry["address"] for entry in entries_of(contact, EMAILS)]
