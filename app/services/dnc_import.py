"""Bulk DNC add from a CSV file, on the import path's streaming reader."""

from __future__ import annotations

import re
from typing import BinaryIO

from app.errors import PayloadTooLarge, Unprocessable, ValidationError
from app.imports.reader import CsvFormatError, iter_csv_rows
from app.phones import to_e164
from app.services.dnc import DncService

BATCH = 5_000
MAX_REPORTED_ERRORS = 100
PHONE_HEADERS = ("phone", "phonenumber", "number", "mobile", "cell", "telephone", "tel", "e164")


def _simplified(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def phone_column(header: list[str], wanted: str | None) -> int:
    """Index of the phone column: the one named, else the first that looks like one."""
    names = [_simplified(h) for h in header]
    if wanted is not None:
        if _simplified(wanted) in names:
            return names.index(_simplified(wanted))
        raise ValidationError(
            details=[{"field": "phoneColumn", "message": f"No column named {wanted!r}."}]
        )
    for candidate in PHONE_HEADERS:
        for index, name in enumerate(names):
            if name == candidate or (candidate == "phone" and name.startswith("phone")):
                return index
    if len(header) == 1:
        return 0
    raise ValidationError(
        details=[{"field": "phoneColumn", "message": "Name the column that holds the numbers."}]
    )


def import_csv(
    service: DncService, stream: BinaryIO, args: dict, *, actor: str, max_rows: int = 1_000_000
) -> dict:
    """List every valid number in the file; invalid rows are counted and reported by line.

    A header that is only a phone number (a bare list of numbers) counts as a row.
    """
    try:
        parsed = iter_csv_rows(stream)
    except CsvFormatError as exc:
        raise Unprocessable(exc.message) from exc
    country = (args.get("defaultCountry") or service.default_country).upper()
    rows = parsed.rows
    if len(parsed.header) == 1 and to_e164(parsed.header[0], country):
        column = 0
        rows = _chain([(parsed.header_line, parsed.header)], rows)
    else:
        column = phone_column(parsed.header, args.get("phoneColumn"))
    totals = {"added": 0, "updated": 0, "invalid": 0, "errors": []}
    batch: list[str] = []
    seen = 0
    try:
        for line, values in rows:
            seen += 1
            if seen > max_rows:
                raise PayloadTooLarge(f"At most {max_rows} rows per file.")
            value = values[column].strip() if column < len(values) else ""
            phone = (
                to_e164(value, country) if value else None
            )  # not memoized: a file would flush the checks' memo
            if phone is None:
                totals["invalid"] += 1
                if len(totals["errors"]) < MAX_REPORTED_ERRORS:
                    message = "Not a valid phone number." if value else "No phone number."
                    totals["errors"].append({"line": line, "value": value, "message": message})
                continue
            batch.append(phone)
            if len(batch) >= BATCH:
                _flush(service, args, actor, batch, totals)
    except CsvFormatError as exc:
        _flush(service, args, actor, batch, totals)
        raise Unprocessable(
            f"{exc.message} Rows before it were listed ({totals['added']} added)."
        ) from exc
    _flush(service, args, actor, batch, totals)
    return totals


def _flush(service: DncService, args: dict, actor: str, batch: list[str], totals: dict) -> None:
    if not batch:
        return
    result = service.add_many(
        args["workspaceId"],
        batch,
        reason=args.get("reason"),
        source=args.get("source"),
        actor=actor,
    )
    totals["added"] += result["added"]
    totals["updated"] += result["updated"]
    batch.clear()


def _chain(first, rest):
    yield from first
    yield from rest
