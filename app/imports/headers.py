"""Header auto-mapping: CSV column names from common exports to contact fields.

Matching ignores case, spaces and punctuation ("E-mail Address" == "emailaddress").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.contact_methods import EMAIL_TYPES, PHONE_TYPES

CONTACT_TARGETS = (
    "firstName",
    "lastName",
    "phone",
    "email",
    "company",
    "notes",
    "tags",
    # The export's own list columns: "+14155551234 (mobile, primary); +12125550000 (work)".
    "phones",
    "emails",
    # The caller's own id (unique per workspace; rows dedupe by it first) and origin.
    "externalId",
    "source",
)
# A further number or address of a known type: "phones.mobile", "emails.work", ...
TYPED_TARGETS = (
    *(f"phones.{kind}" for kind in PHONE_TYPES),
    *(f"emails.{kind}" for kind in EMAIL_TYPES),
)
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
    "phones": ("phones",),
    "emails": ("emails",),
    # "External ID", "externalId" and "Source": what this service's export writes.
    "externalId": ("externalid",),
    "source": ("source",),
}
_RANK = {
    alias: (target, rank)
    for target, aliases in SYNONYMS.items()
    for rank, alias in enumerate(aliases)
}


def normalize_header(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold())


# Columns of phones or emails beyond the one mapped to `phone` / `email` and the type
# their header names (Outlook's Business/Home Phone, E-mail 2/3 Address, ...). Google's
# numbered "Phone N - Value" / "E-mail N - Value" columns say their type in the row, in
# their "- Type" or "- Label" column (see companion_type_column).
PHONE_COLUMN_TYPES = {
    **dict.fromkeys(
        ("mobilephone", "mobile", "mobilenumber", "mobilephonenumber", "cellphone", "cell"),
        "mobile",
    ),
    **dict.fromkeys(
        ("businessphone", "businessphone2", "workphone", "directphone", "companymainphone"),
        "work",
    ),
    **dict.fromkeys(("homephone", "homephone2"), "home"),
    **dict.fromkeys(
        ("phone", "phonenumber", "primaryphone", "otherphone", "telephone", "phone2", "phone3"),
        "other",
    ),
}
EMAIL_COLUMN_TYPES = {
    **dict.fromkeys(("workemail", "businessemail"), "work"),
    **dict.fromkeys(("personalemail", "homeemail"), "home"),
    **dict.fromkeys(
        ("email2address", "email3address", "emailaddress2", "emailaddress3", "otheremail"),
        "other",
    ),
}
_NUMBERED = re.compile(r"^(phone|email)(\d{1,2})(value|type|label)$")
# What a type or label cell says -> our type. Google marks the primary with "* ".
LABEL_TYPES = {
    **dict.fromkeys(("mobile", "cell", "cellular", "iphone", "mobilephone"), "mobile"),
    **dict.fromkeys(("work", "business", "main", "office", "company", "workmobile"), "work"),
    **dict.fromkeys(("home", "personal", "private"), "home"),
}


def type_from_label(text: str, kinds: tuple[str, ...]) -> str:
    """A type from a free-text label ("* Mobile", "Work"); "other" when unknown."""
    found = LABEL_TYPES.get(normalize_header(text), "other")
    return found if found in kinds else "other"


def header_type(name: str) -> str | None:
    """The type a phone or email column's header names, None when it names none."""
    key = normalize_header(name)
    return PHONE_COLUMN_TYPES.get(key) or EMAIL_COLUMN_TYPES.get(key)


def companion_type_column(header: list[str], index: int) -> int | None:
    """Google's "Phone 2 - Type" (or "- Label") column of its "Phone 2 - Value" column."""
    match = _NUMBERED.match(normalize_header(header[index]))
    if not match or match.group(3) != "value":
        return None
    for suffix in ("type", "label"):
        wanted = f"{match.group(1)}{match.group(2)}{suffix}"
        for position, name in enumerate(header):
            if normalize_header(name) == wanted:
                return position
    return None


def _further_target(name: str) -> str | None:
    """The typed target of a phone or email column that did not become `phone`/`email`."""
    key = normalize_header(name)
    match = _NUMBERED.match(key)
    if match and match.group(3) == "value":
        return f"{'phones' if match.group(1) == 'phone' else 'emails'}.other"
    if key in PHONE_COLUMN_TYPES:
        return f"phones.{PHONE_COLUMN_TYPES[key]}"
    if key in EMAIL_COLUMN_TYPES:
        return f"emails.{EMAIL_COLUMN_TYPES[key]}"
    return None


def _is_type_column(header: list[str], index: int, targets: list[str | None]) -> bool:
    """A Google "- Type"/"- Label" column whose value column is mapped: read with it."""
    match = _NUMBERED.match(normalize_header(header[index]))
    if not match or match.group(3) == "value":
        return False
    return any(
        companion_type_column(header, other) == index
        for other, target in enumerate(targets)
        if target and target.split(".")[0] in ("phone", "phones", "email", "emails")
    )


def valid_target(target: str | None) -> bool:
    if target is None or target in (IGNORE, FULL_NAME) or target in CONTACT_TARGETS:
        return True
    if target in TYPED_TARGETS:
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

    # Further phone and email columns are numbers and addresses of the contact too.
    for index, name in enumerate(header):
        further = None if decided[index] else _further_target(name)
        if further:
            targets[index], decided[index] = further, True
    for index in range(len(header)):
        if not decided[index] and _is_type_column(header, index, targets):
            decided[index] = True  # read with its value column, not a field of its own

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
