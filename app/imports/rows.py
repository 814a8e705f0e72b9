"""Row conversion: CSV values -> a create payload, through a ColumnMapping."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.imports.headers import (
    CUSTOM_PREFIX,
    EMAIL_TYPES,
    FULL_NAME,
    PHONE_TYPES,
    ColumnMapping,
    companion_type_column,
    header_type,
    type_from_label,
)

# Split on the separators alone and strip each piece: a pattern with `\s*` on both sides
# of the separator backtracks over every run of spaces (quadratic on hostile cells).
TAG_SEPARATORS = re.compile(r"[;,|]")


@dataclass
class RowProblem:
    field: str
    message: str
    value: str = ""


def split_full_name(name: str) -> tuple[str | None, str | None]:
    """ "Doe, Jane" -> (Jane, Doe); "Jane Van Doe" -> (Jane, Van Doe); "Cher" -> (Cher, None)."""
    name = " ".join(name.split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip() or None, last.strip() or None
    first, _, last = name.partition(" ")
    return first or None, last or None


def split_tags(value: str) -> list[str]:
    """ "vip; lead |b2b" -> ["vip", "lead", "b2b"]: linear in the cell's length."""
    return [tag for piece in TAG_SEPARATORS.split(value) if (tag := piece.strip())]


# Spreadsheet-safe exports (ours among them) put an apostrophe before a cell that would
# otherwise run as a formula; the contact's real value starts after it.
NEUTRALIZED_STARTS = ("=", "+", "-", "@", "\t", "\r")


def unneutralize(value: str) -> str:
    return (
        value[1:] if value[:1] == "'" and value[1:2] in NEUTRALIZED_STARTS and value[1:2] else value
    )


# A contact's numbers and addresses, per list: (scalar target, entry key, types).
METHODS = {"phones": ("phone", "number", PHONE_TYPES), "emails": ("email", "address", EMAIL_TYPES)}
# One entry of the export's list column: "+14155551234 (mobile, primary, dnc)".
LISTED_ENTRY = re.compile(r"^(?P<value>[^()]*?)\s*(?:\((?P<flags>[^()]*)\))?$")


def parse_listed(piece: str, key: str, kinds: tuple[str, ...]) -> dict | None:
    """One entry of an exported `phones` / `emails` cell; None for an empty piece."""
    match = LISTED_ENTRY.match(piece.strip())
    if not match or not match.group("value"):
        return {key: piece.strip(), "type": "other", "primary": False} if piece.strip() else None
    flags = [flag.strip().lower() for flag in (match.group("flags") or "").split(",")]
    kind = next((flag for flag in flags if flag in kinds), "other")
    return {key: match.group("value"), "type": kind, "primary": "primary" in flags}


def method_columns(header: list[str], mapping: ColumnMapping) -> dict[str, list[tuple]]:
    """Per list, its columns as (index, role, type, type column): the export's list
    column first ("list": it says each entry's type, so its entry wins the collapse of a
    repeat), then the `phone` column ("primary"), then further typed columns ("further"),
    each in file order."""
    columns: dict[str, list[tuple]] = {}
    for plural, (scalar, _, _) in METHODS.items():
        found = []
        for index, target in enumerate(mapping.targets):
            if target == plural:
                found.append((0, index, "list", None))
            elif target == scalar:
                found.append((1, index, "primary", header_type(header[index])))
            elif target and target.startswith(plural + "."):
                found.append((2, index, "further", target.split(".", 1)[1]))
        columns[plural] = [
            (index, role, kind, companion_type_column(header, index))
            for _, index, role, kind in sorted(found)
        ]
    return columns


class RowConverter:
    """Builds the payload ContactService validates from one CSV record.

    Empty cells are left out (an import never clears a field); values are kept as
    text, so validation messages quote exactly what the file said.
    """

    def __init__(
        self,
        header: list[str],
        mapping: ColumnMapping,
        workspace_id: str,
        default_country: str | None,
        max_field_chars: int,
    ) -> None:
        self.width = len(header)
        self.header = header
        self.columns = [(i, t) for i, t in enumerate(mapping.targets) if t]
        self.workspace_id = workspace_id
        self.default_country = default_country
        self.max_field_chars = max_field_chars
        self.methods = method_columns(header, mapping)
        self.method_targets = {
            target for target in mapping.targets if target and target.split(".")[0] in METHODS
        }

    def convert(self, values: list[str]) -> tuple[dict | None, list[RowProblem]]:
        if len(values) != self.width:
            extra = values[self.width :]
            if len(values) < self.width or any(v.strip() for v in extra):
                message = f"The row has {len(values)} fields; the header has {self.width}."
                return None, [RowProblem("row", message)]
        payload: dict = {"workspaceId": self.workspace_id}
        if self.default_country:
            payload["defaultCountry"] = self.default_country
        custom: dict[str, str] = {}
        problems: list[RowProblem] = []
        for index, target in self.columns:
            value = unneutralize(values[index].strip())
            if not value:
                continue
            if len(value) > self.max_field_chars:
                message = f"The value is longer than {self.max_field_chars} characters."
                problems.append(RowProblem(self.header[index], message, value[:100] + "..."))
            elif target.startswith(CUSTOM_PREFIX):
                custom[target[len(CUSTOM_PREFIX) :]] = value
            elif target == FULL_NAME:
                first, last = split_full_name(value)
                payload.setdefault("firstName", first)
                payload.setdefault("lastName", last)
            elif target == "tags":
                payload["tags"] = split_tags(value)
            elif target in self.method_targets:
                continue  # read below, as one list
            else:
                payload[target] = value
        if custom:
            payload["customFields"] = custom
        for plural in METHODS:
            cells = self._method_cells(values, plural)
            # A lone number under a header that names no type stays the seed's `phone`.
            if len(cells) > 1 or (cells and cells[0][2]):
                payload[plural] = [entry for _, entry, _ in cells]
        return (None, problems) if problems else (payload, [])

    def _method_cells(self, values: list[str], plural: str) -> list[tuple[int, dict, bool]]:
        """(column, entry, typed) of every number or address of one list in the row."""
        _, key, kinds = METHODS[plural]
        cells = []
        for index, role, kind, companion in self.methods[plural]:
            value = unneutralize(values[index].strip())
            if not value or len(value) > self.max_field_chars:
                continue
            if role == "list":
                for piece in value.split(";"):
                    entry = parse_listed(piece, key, kinds)
                    if entry:
                        cells.append((index, entry, True))
                continue
            if companion is not None and values[companion].strip():
                kind = type_from_label(values[companion], kinds)
            typed = kind not in (None, "other")
            entry = {key: value, "type": kind or "other", "primary": role == "primary"}
            cells.append((index, entry, typed))
        return cells

    def raw_value(self, values: list[str], field: str) -> str:
        """The cell a validation message is about (first column mapped to the field)."""
        root = field.split(".", 1)[0]
        if root in METHODS:
            cells = self._method_cells(values, root)
            position = field.split(".")[1] if field.count(".") >= 1 else "0"
            number = int(position) if position.isdigit() else 0
            return values[cells[number][0]] if number < len(cells) else ""
        for index, target in self.columns:
            if target == root or (root in ("firstName", "lastName") and target == FULL_NAME):
                return values[index] if index < len(values) else ""
            if root == "customFields" and target.startswith(CUSTOM_PREFIX):
                key = field.split(".", 1)[1] if "." in field else ""
                if not key or target == CUSTOM_PREFIX + key:
                    return values[index] if index < len(values) else ""
        return ""
