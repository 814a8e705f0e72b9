"""Conversion between the API's contact and the document stored in OpenSearch."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from app.contact_methods import EMAILS, PHONES, Kind, entries_of
from app.phones import country_calling_code, digits
from app.search.names import sounds_of

CONTACT_FIELDS = (
    "id",
    "workspaceId",
    "firstName",
    "lastName",
    "phone",
    "phones",
    "email",
    "emails",
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
    """ISO 8601 UTC with milliseconds and a Z, the API's timestamp format.

    Read once or more per written contact (a 1,000-item batch, every import row): the
    text of the current second is kept and only the milliseconds are written per call,
    about a fifth of the cost of formatting a datetime (same text: tests/unit)."""
    global _second
    millis = time.time_ns() // 1_000_000
    second, millis = divmod(millis, 1000)
    known = _second
    if known[0] != second:
        known = _second = (second, _second_text(second))
    return f"{known[1]}.{millis:03d}Z"


def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# The last second utc_now wrote, and its text (one tuple: swapped whole between threads).
_second: tuple[int, str] = (-1, "")


def phone_variants(e164: str | None) -> list[str]:
    """Digit strings a person may type for this number: with and without the country code.

    Both are indexed so "+1 415 555" and "(415) 555" find the same row.
    """
    if not e164:
        return []
    # A stored number is ASCII E.164 ("+" and digits): its digits are the rest of it,
    # without the regular expression; anything else takes the general path.
    if e164[:1] == "+" and e164.isascii() and e164[1:].isdigit():
        all_digits = e164[1:]
    else:
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


# Documents a reindex must compute the derived fields of (app/search/reindex_steps.py).
NAME_SOUNDS_MISSING = {
    "bool": {
        "must_not": [
            {"exists": {"field": "firstNameSounds"}},
            {"exists": {"field": "lastNameSounds"}},
        ]
    }
}
# A phone or email without its list: a document written before the lists existed.
METHODS_MISSING = {
    "bool": {
        "should": [
            {
                "bool": {
                    "filter": [{"exists": {"field": scalar}}],
                    "must_not": [{"exists": {"field": listed}}],
                }
            }
            for scalar, listed in (("phone", "phones.number"), ("email", "emails.address"))
        ]
    }
}


def derived_method_fields(source: dict) -> dict:
    """Every phone and email as stored lists (a document written before the lists existed
    gets its one `phone` / `email` as the primary entry) and their index-only search
    fields: every number's digit strings, every address. A reindex recomputes them."""
    phones = _stored(source, PHONES)
    emails = _stored(source, EMAILS)
    variants = [v for entry in phones for v in phone_variants(entry["number"])]
    return {
        "phones": phones,
        "emails": emails,
        "phoneDigits": list(dict.fromkeys(variants)),
        "emailAddresses": [entry["address"] for entry in emails],
    }


def _stored(source: dict, kind: Kind) -> list[dict]:
    """`entries_of(source, kind)` as stored: each entry's value, type and primary flag.

    A number's `dnc` is read from the list at read time, never stored with it. The
    entries are read in place (entries_of would copy each one first, only for it to be
    copied again here)."""
    key = kind.key
    entries = source.get(kind.plural) or entries_of(source, kind)
    return [{key: e[key], "type": e["type"], "primary": e["primary"]} for e in entries]


def to_document(contact: dict) -> dict:
    document = {field: contact.get(field) for field in CONTACT_FIELDS}
    document.update(derived_method_fields(contact))
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
    contact["phones"] = entries_of(source, PHONES)
    contact["emails"] = entries_of(source, EMAILS)
    return contact
