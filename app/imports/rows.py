"""Row conversion: CSV values -> a create payload, through a ColumnMapping."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.imports.headers import CUSTOM_PREFIX, FULL_NAME, ColumnMapping

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
            else:
                payload[target] = value
        if custom:
            payload["customFields"] = custom
        return (None, problems) if problems else (payload, [])

    def raw_value(self, values: list[str], field: str) -> str:
        """The cell a validation message is about (first column mapped to the field)."""
        root = field.split(".", 1)[0]
        for index, target in self.columns:
            if target == root or (root in ("firstName", "lastName") and target == FULL_NAME):
                return values[index] if index < len(values) else ""
            if root == "customFields" and target.startswith(CUSTOM_PREFIX):
                key = field.split(".", 1)[1] if "." in field else ""
                if not key or target == CUSTOM_PREFIX + key:
                    return values[index] if index < len(values) else ""
        return ""
