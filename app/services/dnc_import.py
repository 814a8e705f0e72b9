"""Bulk DNC add from a CSV file, on the import path's streaming reader."""

from __future__ import annotations

import itertools
from typing import BinaryIO

from app.errors import PayloadTooLarge, ValidationError, csv_error
from app.imports.headers import MappingError, build_mapping
from app.imports.reader import CsvFormatError, iter_csv_rows
from app.phones import to_e164
from app.services.dnc import DncService

BATCH = 5_000
MAX_REPORTED_ERRORS = 100


def phone_column(header: list[str], wanted: str | None) -> int:
    """Index of the phone column: the one named, else the one the contacts import would
    map to `phone` (the same synonyms: Outlook's Mobile/Business Phone, Google's
    Phone 1 - Value, ...), else the only column."""
    try:
        mapping = build_mapping(header, {wanted: "phone"} if wanted else None)
    except MappingError:
        raise ValidationError(
            details=[{"field": "phoneColumn", "message": f"No column named {wanted!r}."}]
        ) from None
    columns = mapping.columns_of("phone")
    if columns:
        return columns[0]
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
        raise csv_error(exc.message, exc.code) from exc
    country = (args.get("defaultCountry") or service.default_country).upper()
    rows = parsed.rows
    if len(parsed.header) == 1 and to_e164(parsed.header[0], country):
        column = 0
        rows = itertools.chain([(parsed.header_line, parsed.header)], rows)
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
        message = f"{exc.message} Rows before it were listed ({totals['added']} added)."
        raise csv_error(message, exc.code) from exc
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
