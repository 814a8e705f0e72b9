"""The rules a contact obeys whatever path writes or reads it: pure functions, no I/O.

The contract: `prepare_fields` is the one normalization of written fields on top of the
schema (E.164 phones through app/phones.py, lowercase emails, trimmed text, deduplicated
tags), a 400 naming the field when a phone is not valid; `require_identity` refuses a
contact with no name, phone, email or company; `parse_etag` reads an If-Match value
(412 for anything that is not a version of ours, never int() of a huge or non-ASCII
number); `exact_dnc_filter` re-applies a `dnc` filter to the flags just read from the
list (503 when undecided), so a stale indexed flag never puts a listed number in a
`dnc=false` page; `new_contact_id` is an unguessable id.

Why its own module: single writes (ContactService), the batch, imports, merges and the
calling window all apply these same rules; they need no client, so they live apart from
the service that does the engine's I/O (app/services/contacts.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from app.contact_methods import normalize_email_entries, normalize_phone_entries
from app.errors import Conflict, PreconditionFailed, ServiceUnavailable, ValidationError
from app.phones import normalize, to_e164


def new_contact_id() -> str:
    # 16 random bytes, URL-safe base64: 128 bits, no ordering leaks, safe in paths.
    return "contact_" + secrets.token_urlsafe(16)


@dataclass
class Versioned:
    """A contact with the OpenSearch version that guards concurrent edits."""

    contact: dict
    seq_no: int
    primary_term: int

    @property
    def etag(self) -> str:
        return f'"{self.primary_term}-{self.seq_no}"'


def parse_etag(value: str | None) -> tuple[int, int] | None:
    """(primary_term, seq_no) from an If-Match value; None for absent or `*`."""
    if not value or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    term, _, seq = text.partition("-")
    # ASCII digits only, each part a 64-bit number: int() never sees 4,000 digits or "²".
    if (
        not (term.isascii() and seq.isascii() and term.isdigit() and seq.isdigit())
        or max(len(term), len(seq)) > 19
    ):
        raise PreconditionFailed("If-Match does not name a version of this contact.")
    return int(term), int(seq)


def prepare_fields(data: dict, default_country: str) -> dict:
    """Domain rules on top of the schema: E.164 phones, lowercase emails, trimmed text."""
    prepared = dict(data)
    country = prepared.pop("defaultCountry", None) or default_country
    for field in ("firstName", "lastName", "company", "notes", "source"):
        if isinstance(prepared.get(field), str):
            prepared[field] = prepared[field].strip() or None
    if prepared.get("email"):
        prepared["email"] = prepared["email"].strip().lower()
    if prepared.get("phone"):
        e164 = to_e164(prepared["phone"], country)
        if e164 is None:
            # The slow, full analysis only for the rejected number, to say why.
            reasons = ", ".join(normalize(prepared["phone"], country).validationErrors)
            raise ValidationError(
                details=[{"field": "phone", "message": f"Not a valid phone number ({reasons})."}]
            )
        prepared["phone"] = e164
    elif "phone" in prepared:
        prepared["phone"] = None
    if "tags" in prepared:
        prepared["tags"] = list(dict.fromkeys(t.strip() for t in prepared["tags"] or []))
    if "phones" in prepared:
        prepared["phones"] = normalize_phone_entries(prepared["phones"] or [], country)
    if "emails" in prepared:
        prepared["emails"] = normalize_email_entries(prepared["emails"] or [])
    return prepared


def exact_dnc_filter(contacts: list[dict], filters: dict | None) -> list[dict]:
    """Apply a `dnc` filter to annotated contacts, against the list itself.

    The engine filters on each contact's indexed flag; this re-applies the filter to the
    flags just read from the DNC list, so a flag that has not caught up can never put a
    listed number in a `dnc=false` page. An undecided flag fails the request (503):
    a filtered page is what a dialer calls from.
    """
    wanted = (filters or {}).get("dnc")
    if wanted is None:
        return contacts
    if any(c.get("dnc") is None and (c.get("phones") or c.get("phone")) for c in contacts):
        raise ServiceUnavailable("The DNC list could not be read; the filter cannot be applied.")
    return [c for c in contacts if bool(c.get("dnc")) == wanted]


def external_id_taken() -> Conflict:
    return Conflict(
        "Another contact of the workspace has this externalId.",
        details=[{"field": "externalId", "message": "Already in use in this workspace."}],
    )


def require_identity(contact: dict) -> None:
    if not any(contact.get(f) for f in ("firstName", "lastName", "phone", "email", "company")):
        raise ValidationError(
            "A contact needs at least a name, phone or email.",
            details=[{"field": "body", "message": "Give a name, phone, email or company."}],
        )
