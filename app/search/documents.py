"""Conversion between the API's contact and the document stored in OpenSearch."""

from __future__ import annotations

from datetime import UTC, datetime

from app.phones import country_calling_code, digits
from app.search.names import sounds_of

CONTACT_FIELDS = (
    "id",
    "workspaceId",
    "firstName",
    "lastName",
    "phone",
    "email",
    "company",
    "notes",
    "tags",
    "customFields",
    "externalId",
    "source",
    "createdAt",
    "updatedAt",
)


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds and a Z, the API's timestamp format."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def phone_variants(e164: str | None) -> list[str]:
    """Digit strings a person may type for this number: with and without the country code.

    Both are indexed so "+1 415 555" and "(415) 555" find the same row.
    """
    if not e164:
        return []
    all_digits = digits(e164)
    return list(dict.fromkeys([all_digits, all_digits[len(country_calling_code(e164)) :]]))


def full_name(contact: dict) -> str | None:
    """First and last name joined by single spaces (None when the contact has neither)."""
    text = " ".join(f"{contact.get('firstName') or ''} {contact.get('lastName') or ''}".split())
    return text or None


def derived_name_fields(source: dict) -> dict:
    """Fields computed from the names in Python (the engine has no phonetic analysis
    without a plugin): the sound codes of each name. A reindex recomputes them."""
    return {
        "firstNameSounds": sounds_of(source.get("firstName")),
        "lastNameSounds": sounds_of(source.get("lastName")),
    }


def to_document(contact: dict) -> dict:
    document = {field: contact.get(field) for field in CONTACT_FIELDS}
    document["phoneDigits"] = phone_variants(contact.get("phone"))
    # "first last" as one keyword, so search can reward a query that is the whole name.
    document["fullNameExact"] = full_name(contact)
    document.update(derived_name_fields(contact))
    # Indexed copy of the DNC flag, for the search filter; reads recompute it from the cache.
    document["dnc"] = bool(contact.get("dnc"))
    return document


def from_source(source: dict) -> dict:
    contact = {field: source.get(field) for field in CONTACT_FIELDS}
    contact["tags"] = contact["tags"] or []
    contact["customFields"] = contact["customFields"] or {}
    return contact
