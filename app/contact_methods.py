"""A contact's phones and emails (its contact methods): the lists beside the seed's
`phone` and `email`.

The contract (pure functions, no I/O; documents, ContactService, imports and merges
call them):

- `phones: [{number, type, primary}]`, `emails: [{address, type, primary}]`. Every number
  goes through app/phones.py's one normalizer (E.164 or a 400 naming the item); every
  address is trimmed and lowercased. An entry repeated within a contact collapses into
  the first one (primary if any copy was). At most one entry is primary; when none is
  flagged the first one is. At most MAX_ENTRIES of each (the schema says so too).
- `phone` / `email` are always the primary entry's value: existing clients that only
  know `phone` and `email` see exactly what they saw before (a create with `phone` gives
  `phones` with that one number, primary; a PATCH of `phone` changes the primary
  number; `phone: null` removes it, and the next number, if any, becomes primary).
- A request giving both `phone` and `phones` must agree on the primary (400 otherwise):
  two answers to "which number is the main one" is a client bug, not a choice to guess.
- Stored documents written before the lists existed carry only `phone` / `email`;
  `entries_of` reads them as a one-entry list, and the reindex writes that list down.
"""

from __future__ import annotations

from app.errors import ValidationError
from app.phones import normalize, to_e164

MAX_ENTRIES = 20
PHONE_TYPES = ("mobile", "work", "home", "other")
EMAIL_TYPES = ("work", "home", "other")
# A number or address that came without a type (the seed's single `phone`, an import
# column that does not say) is "other": we do not guess whether it is a mobile.
DEFAULT_TYPE = "other"


class Kind:
    """One kind of list: its key in an entry, its scalar field and its list field."""

    def __init__(self, scalar: str, plural: str, key: str) -> None:
        self.scalar, self.plural, self.key = scalar, plural, key


PHONES = Kind("phone", "phones", "number")
EMAILS = Kind("email", "emails", "address")
KINDS = (PHONES, EMAILS)


def entries_of(contact: dict, kind: Kind) -> list[dict]:
    """The contact's entries, reading a document that only has the scalar as one entry."""
    entries = contact.get(kind.plural)
    if entries:
        return [dict(entry) for entry in entries]
    value = contact.get(kind.scalar)
    if value:
        return [{kind.key: value, "type": DEFAULT_TYPE, "primary": True}]
    return []


def numbers_of(contact: dict) -> list[str]:
    """Every E.164 number of a contact, primary first."""
    return _values_of(contact, PHONES)


def addresses_of(contact: dict) -> list[str]:
    return _values_of(contact, EMAILS)


def _values_of(contact: dict, kind: Kind) -> list[str]:
    """The values of entries_of(contact, kind), read in place (no copy of each entry)."""
    entries = contact.get(kind.plural)
    if entries:
        return [entry[kind.key] for entry in entries]
    value = contact.get(kind.scalar)
    return [value] if value else []


def flag_numbers(contact: dict, listed: set[str] | None) -> None:
    """Each number's `dnc` and the contact's: listed when any of its numbers is (a
    dialer filtering on `dnc=false` must never get a contact reachable on a listed
    number). `listed` None: the list could not be read, so every answer is null
    (unknown, never callable); a contact without numbers is simply not listed."""
    entries = entries_of(contact, PHONES)
    for entry in entries:
        entry["dnc"] = None if listed is None else entry["number"] in listed
    contact["phones"] = entries
    if listed is None:
        contact["dnc"] = None if entries else False
    else:
        contact["dnc"] = any(entry["dnc"] for entry in entries)


def settle(entries: list[dict], kind: Kind, field: str | None = None) -> list[dict]:
    """Collapse repeats, check there is at most one primary, make the primary first."""
    merged: dict[str, dict] = {}
    for entry in entries:
        value = entry[kind.key]
        if value in merged:
            merged[value]["primary"] = merged[value]["primary"] or bool(entry.get("primary"))
            continue
        merged[value] = {
            kind.key: value,
            "type": entry.get("type") or DEFAULT_TYPE,
            "primary": bool(entry.get("primary")),
        }
    result = list(merged.values())
    primaries = [entry for entry in result if entry["primary"]]
    if len(primaries) > 1:
        raise ValidationError(
            details=[{"field": field or kind.plural, "message": "At most one is primary."}]
        )
    if len(result) > MAX_ENTRIES:
        raise ValidationError(
            details=[{"field": field or kind.plural, "message": f"At most {MAX_ENTRIES}."}]
        )
    if result and not primaries:
        result[0]["primary"] = True
    result.sort(key=lambda entry: not entry["primary"])  # stable: the rest keep their order
    return result


def normalize_phone_entries(items: list[dict], country: str) -> list[dict]:
    """E.164 for every number (a 400 naming the item otherwise), then settled."""
    entries = []
    for index, item in enumerate(items):
        e164 = to_e164(item["number"], country)
        if e164 is None:
            reasons = ", ".join(normalize(item["number"], country).validationErrors)
            raise ValidationError(
                details=[
                    {
                        "field": f"phones.{index}.number",
                        "message": f"Not a valid phone number ({reasons}).",
                    }
                ]
            )
        entries.append({**item, "number": e164})
    return settle(entries, PHONES)


def normalize_email_entries(items: list[dict]) -> list[dict]:
    entries = [{**item, "address": item["address"].strip().lower()} for item in items]
    return settle(entries, EMAILS)


_METHOD_FIELDS = frozenset(name for kind in KINDS for name in (kind.scalar, kind.plural))


def without_methods(changes: dict) -> dict:
    """A write's fields other than phone(s) and email(s) (apply_changes folds those)."""
    return {key: value for key, value in changes.items() if key not in _METHOD_FIELDS}


def apply_changes(current: dict, changes: dict) -> None:
    """Fold a write's (already normalized) scalar and list fields into `current`.

    `current` is a contact with both forms (possibly an empty new one); afterwards its
    lists and scalars agree again. Lists replace lists; a scalar alone changes the
    primary entry (see the module docstring).
    """
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


def _primary(entries: list[dict], kind: Kind) -> str | None:
    return next((e[kind.key] for e in entries if e["primary"]), None)


def _with_primary(entries: list[dict], value: str | None, kind: Kind) -> list[dict]:
    """The list after a write of the scalar alone: the primary entry takes the new value
    (keeping its type); null removes it and promotes the next entry."""
    if len(entries) < 2 and value is not None:
        # The common shapes (a new contact; a contact with one number) without settle's
        # general pass: the same single entry it would give.
        if not entries:
            return [{kind.key: value, "type": DEFAULT_TYPE, "primary": True}]
        entry = entries[0]
        if entry["primary"] or entry[kind.key] == value:
            return [{kind.key: value, "type": entry["type"] or DEFAULT_TYPE, "primary": True}]
    rest = [e for e in entries if not e["primary"]]
    if value is None:
        return settle(rest, kind)
    # A number the contact already holds keeps its own type; a new one takes the type
    # of the primary it replaces.
    held = next((e for e in entries if e[kind.key] == value), None)
    old = held or next((e for e in entries if e["primary"]), None)
    entry_type = old["type"] if old else DEFAULT_TYPE
    primary = {kind.key: value, "type": entry_type, "primary": True}
    others = [{**e, "primary": False} for e in rest if e[kind.key] != value]
    return settle([primary, *others], kind)


def union(lists: list[list[dict]], kind: Kind) -> list[dict]:
    """Entries of several contacts as one list: the first list's primary stays primary,
    every other entry is kept once, in order (merges and import updates)."""
    entries = []
    for position, items in enumerate(lists):
        for entry in items:
            entries.append({**entry, "primary": bool(entry.get("primary")) and position == 0})
    return settle(entries, kind)
