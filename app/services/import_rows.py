"""Row and RowValidator: one CSV record of an import, validated by ContactService's own
rules (the same as a single create), with the problems a rejected row reports and how
it was found to be a duplicate. ImportRun (app/services/import_runs.py) plans chunks of
them; ImportRecords (app/services/import_records.py) reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import ValidationError
from app.imports import RowConverter, RowProblem
from app.services.contacts import ContactService


@dataclass
class Row:
    line: int
    values: list[str]
    contact: dict | None = None
    problems: list[RowProblem] = field(default_factory=list)
    # "inFile" (an earlier row of the file holds one of its numbers or addresses) or
    # "existing" (a contact that was there before): reported apart, whatever the policy.
    duplicate: str | None = None
    duplicate_of: str | None = None  # the contact's id, when known


class RowValidator:
    """CSV record -> validated contact, through ContactService's own rules."""

    def __init__(self, converter: RowConverter, contacts: ContactService) -> None:
        self.converter = converter
        self.contacts = contacts

    def validate(self, line: int, values: list[str]) -> Row:
        row = Row(line, values)
        payload, row.problems = self.converter.convert(values)
        if payload is None:
            return row
        try:
            row.contact = self.contacts.validate_new(payload)
        except ValidationError as exc:
            details = exc.details or [{"field": "row", "message": exc.message}]
            row.problems = [
                RowProblem(d["field"], d["message"], self.converter.raw_value(values, d["field"]))
                for d in details
            ]
        return row
