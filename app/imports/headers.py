"""Header auto-mapping: CSV column names from common exports to contact fields.

Matching ignores case, spaces and punctuation ("E-mail Address" == "emailaddress").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CONTACT_TARGETS = ("firstName", "lastName", "phone", "email", "company", "notes", "tags")
FULL_NAME = "fullName"
CUSTOM_PREFIX = "customFields."
IGNORE = "ignore"
# What an import does with a row that matches an existing contact (by phone or email).
POLICIES = ("skip", "update", "create")
# Columns of our own errors.csv, so a corrected error file re-imports cleanly.
ERROR_COLUMNS = ("import_line", "import_error")
# Columns of this service's own export that describe the source record, not the contact:
# a re-import gets new ids, timestamps and DNC state, so these are never data.
EXPORT_SYSTEM_COLUMNS = ("id", "workspaceId", "createdAt", "updatedAt", "dnc")

# Most specific first: when several columns match one field, the earliest synonym wins
# (Outlook's "Mobile Phone" over "Business Phone"); the others become custom fields.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "firstName": ("firstname", "givenname", "first", "fname", "forename", "prenom", "vorname"),
    "lastName": ("lastname", "familyname", "surname", "last", "lname", "nachname", "nom"),
    FULL_NAME: ("fullname", "name", "contactname", "displayname", "contact"),
    "email": (
        "email",
        "emailaddress",
        "email1value",
        "emailaddress1",
        "email1address",
        "primaryemail",
        "workemail",
        "businessemail",
        "personalemail",
        "mail",
        "courriel",
    ),
    "phone": (
        "phone",
        "phonenumber",
        "mobilephone",
        "mobile",
        "mobilenumber",
        "mobilephonenumber",
        "cellphone",
        "cell",
        "phone1value",
        "primaryphone",
        "businessphone",
        "workphone",
        "telephone",
        "telephonenumber",
        "tel",
        "homephone",
        "directphone",
        "telefon",
        "telefono",
        "telephone1",
        # A bare list of numbers (a DNC file) often heads its column so.
        "number",
        "e164",
    ),
    "company": (
        "company",
        "companyname",
        "organization",
        "organisation",
        "organization1name",
        "organizationname",
        "org",
        "account",
        "accountname",
        "employer",
        "business",
        "firma",
        "empresa",
        "societe",
    ),
    "notes": ("notes", "note", "comments", "comment", "description", "remarks", "notizen"),
    "tags": ("tags", "tag", "labels", "label", "lists"),
}
_RANK = {
    alias: (target, rank)
    for target, aliases in SYNONYMS.items()
    for rank, alias in enumerate(aliases)
}


def normalize_header(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold())


def valid_target(target: str | None) -> bool:
    if target is None or target in (IGNORE, FULL_NAME) or target in CONTACT_TARGETS:
        return True
    key = target.removeprefix(CUSTOM_PREFIX)
    return target.startswith(CUSTOM_PREFIX) and 0 < len(key) <= 64


@dataclass
class ColumnMapping:
    """Which column feeds which field, by column position (names may repeat)."""

    targets: list[str | None]  # per column: a field, "customFields.<key>", or None
    unmapped: list[str] = field(default_factory=list)

    def describe(self, header: list[str]) -> dict[str, str | None]:
        return {name: target for name, target in zip(header, self.targets, strict=False)}

    def columns_of(self, target: str) -> list[int]:
        return [i for i, t in enumerate(self.targets) if t == target]


class MappingError(ValueError):
    def __init__(self, details: list[dict]) -> None:
        super().__init__("The mapping does not fit the file.")
        self.details = details


def build_mapping(
    header: list[str], explicit: dict[str, str | None] | None = None, *, keep_unmapped: bool = True
) -> ColumnMapping:
    """Explicit entries first (by exact or normalized name), then synonyms, then the rest."""
    explicit = explicit or {}
    targets: list[str | None] = [None] * len(header)
    decided = [False] * len(header)
    by_exact = {name: i for i, name in reversed(list(enumerate(header)))}
    by_normal = {normalize_header(n): i for i, n in reversed(list(enumerate(header)))}
    problems = []
    for column, target in explicit.items():
        index = by_exact.get(column, by_normal.get(normalize_header(column)))
        if index is None:
            problems.append(
                {"field": f"mapping.{column}", "message": "No such column in the file."}
            )
            continue
        targets[index] = None if target in (None, IGNORE) else target
        decided[index] = True
    if problems:
        raise MappingError(problems)

    taken = {t for t in targets if t}
    best: dict[str, tuple[int, int]] = {}  # target -> (rank, column)
    for index, name in enumerate(header):
        if decided[index] or normalize_header(name) not in _RANK:
            continue
        target, rank = _RANK[normalize_header(name)]
        if target not in taken and (target not in best or rank < best[target][0]):
            best[target] = (rank, index)
    for target, (_, index) in best.items():
        targets[index], decided[index] = target, True
    # A full-name column only fills in when first/last names are not mapped on their own.
    if FULL_NAME in targets and {"firstName", "lastName"} & set(targets) and FULL_NAME not in taken:
        index = targets.index(FULL_NAME)
        targets[index], decided[index] = None, False

    unmapped = []
    for index, name in enumerate(header):
        if decided[index] or name in ERROR_COLUMNS or name in EXPORT_SYSTEM_COLUMNS:
            continue
        if name.startswith(CUSTOM_PREFIX) and valid_target(name):
            targets[index] = name  # an exported custom field goes back where it came from
            continue
        unmapped.append(name)
        if keep_unmapped and name:
            targets[index] = CUSTOM_PREFIX + name[:64]
    return ColumnMapping(targets, unmapped)
