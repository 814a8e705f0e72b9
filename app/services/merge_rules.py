"""How several contacts become one: the pure part of a merge (no I/O).

`combine(target, sources, choices)` returns the survivor and where each of its values
came from. The rules:

- Scalar fields (names, company, notes, source): the target's value when it has one,
  else the first source's (in `sourceIds` order) that has one. `fieldChoices` names the
  contact whose value wins a field regardless (`{"company": "<a source id>"}`); for
  `phone` / `email` it names whose primary number / address becomes the primary.
- Every phone and email of every contact is kept once (app/contact_methods.py's union:
  repeats collapse, the target's primary stays primary unless chosen otherwise).
- Tags add up; custom fields add up, the target's value winning a key both hold (or the
  contact `fieldChoices["customFields.<key>"]` names).
- The survivor keeps its id, workspace, createdAt and externalId. Its DNC flags are never
  taken from any input: the caller reads them from the DNC list for the merged numbers.

Also here: the checks of a merge request's ids and choices, and the answers about
merged-away contacts (a 301 to the survivor, a 409 naming it).

The function is idempotent (combining the survivor with the same sources again changes
nothing), which is what makes a merge that died half-way safe to run again.
"""

from __future__ import annotations

from app.contact_methods import KINDS, MAX_ENTRIES, entries_of, union
from app.errors import ApiError, Conflict, Unprocessable, ValidationError
from app.schemas.contacts import MAX_CUSTOM_FIELDS, MAX_TAGS

SCALARS = ("firstName", "lastName", "company", "notes", "source")
CHOOSABLE = (*SCALARS, "phone", "email")
CUSTOM_PREFIX = "customFields."


def check_choices(choices: dict, contact_ids: list[str]) -> None:
    """400 for a choice of an unknown field or of a contact outside the merge."""
    problems = []
    for field, chosen in choices.items():
        known = field in CHOOSABLE or (
            field.startswith(CUSTOM_PREFIX) and 0 < len(field) - len(CUSTOM_PREFIX) <= 64
        )
        if not known:
            problems.append({"field": f"fieldChoices.{field[:80]}", "message": "Unknown field."})
        elif chosen not in contact_ids:
            problems.append(
                {
                    "field": f"fieldChoices.{field}",
                    "message": "Name the target or one of the sources.",
                }
            )
    if problems:
        raise ValidationError("Some field choices cannot be applied.", details=problems)


def combine(target: dict, sources: list[dict], choices: dict) -> tuple[dict, dict]:
    """(survivor, provenance): see the module docstring."""
    everyone = [target, *sources]
    by_id = {contact["id"]: contact for contact in everyone}
    merged = dict(target)
    provenance: dict = {"fields": {}, "phones": {}, "emails": {}, "tags": {}, "customFields": {}}
    for field in SCALARS:
        if field in choices:
            owner = by_id[choices[field]]
        else:
            owner = next((c for c in everyone if c.get(field)), target)
        merged[field] = owner.get(field)
        if merged[field] is not None:
            provenance["fields"][field] = owner["id"]
    for kind in KINDS:
        chosen = by_id.get(choices.get(kind.scalar), target)
        ordered = [chosen, *(c for c in everyone if c is not chosen)]
        # The chosen contact's primary leads; a chosen contact without one keeps the target's.
        if not entries_of(chosen, kind):
            ordered = [target, *(c for c in everyone if c is not target)]
        lists = [entries_of(contact, kind) for contact in ordered]
        total = len({entry[kind.key] for items in lists for entry in items})
        if total > MAX_ENTRIES:
            raise Unprocessable(
                f"The merged contact would hold {total} {kind.plural}; at most {MAX_ENTRIES}.",
                details=[{"field": kind.plural, "message": f"At most {MAX_ENTRIES}."}],
            )
        merged[kind.plural] = [
            {k: v for k, v in e.items() if k != "dnc"} for e in union(lists, kind)
        ]
        merged[kind.scalar] = merged[kind.plural][0][kind.key] if merged[kind.plural] else None
        for contact in reversed(everyone):  # the target, else the first source holding it
            for entry in entries_of(contact, kind):
                provenance[kind.plural][entry[kind.key]] = contact["id"]
    merged["tags"] = list(dict.fromkeys(tag for c in everyone for tag in c.get("tags") or []))
    if len(merged["tags"]) > MAX_TAGS:
        raise Unprocessable(
            f"The merged contact would hold {len(merged['tags'])} tags; at most {MAX_TAGS}.",
            details=[{"field": "tags", "message": f"At most {MAX_TAGS}."}],
        )
    for tag in merged["tags"]:
        provenance["tags"][tag] = next(c["id"] for c in everyone if tag in (c.get("tags") or []))
    custom: dict = {}
    for contact in everyone:  # the target (first) wins a key both hold
        for key, value in (contact.get("customFields") or {}).items():
            if key not in custom:
                custom[key] = value
                provenance["customFields"][key] = contact["id"]
    for field, chosen in choices.items():
        if field.startswith(CUSTOM_PREFIX):
            key = field[len(CUSTOM_PREFIX) :]
            values = by_id[chosen].get("customFields") or {}
            if key in values:
                custom[key] = values[key]
                provenance["customFields"][key] = chosen
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise Unprocessable(
            f"The merged contact would hold {len(custom)} custom fields; "
            f"at most {MAX_CUSTOM_FIELDS}.",
            details=[{"field": "customFields", "message": f"At most {MAX_CUSTOM_FIELDS}."}],
        )
    merged["customFields"] = custom
    for field in ("id", "workspaceId", "createdAt", "externalId"):
        if field in target:
            merged[field] = target[field]
    merged.pop("dnc", None)
    return merged, provenance


class MergedAway(ApiError):
    """A read of a merged-away id: 301 to the survivor, in the one error shape."""

    status, code, message = 301, "merged", "This contact was merged into another one."


def merged_into(survivor: str) -> MergedAway:
    return MergedAway(
        f"This contact was merged into {survivor}.",
        details=[{"field": "id", "message": survivor}],
        headers={"Location": f"/v1/contacts/{survivor}"},
    )


def check_ids(target_id: str, source_ids: list[str]) -> None:
    problems = []
    if len(set(source_ids)) != len(source_ids):
        problems.append({"field": "sourceIds", "message": "Name each source once."})
    if target_id in source_ids:
        problems.append({"field": "sourceIds", "message": "The target cannot be a source."})
    if problems:
        raise ValidationError("The merge names its contacts wrongly.", details=problems)


def merged_conflict(field: str, survivor: str | None) -> Conflict:
    return Conflict(
        "A contact of this merge was merged into another contact already.",
        details=[{"field": field, "message": survivor or "merged"}],
    )
