"""The import record's own shape, and its error report: pure builders with no Redis.

The contract: `new_record` is the record a new import starts from (every field the API
shows, counts zero, checkpoint at line 0); `record_duplicate` and `record_error` add a
row's outcome to a record, keeping at most FIRST_ERRORS examples in it; `errors_writer`
opens errors.csv cut back to the record's checkpoint, so a resumed run never repeats a
row, and writes every cell neutralized as the export's are (the file is opened in
spreadsheets).

Why its own module: these say what an import record and its errors.csv contain;
app/services/imports.py keeps the lifecycle (create, run under a lock, resume, recover)
and only calls them.
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

from app.search.documents import utc_now
from app.services.export import neutralize
from app.services.import_rows import Row
from app.services.import_runs import Counts

FIRST_ERRORS = 20


def new_duplicates() -> dict:
    """Rows that repeat an earlier row of the file, apart from rows that match a contact
    that was there before; counted whatever onDuplicate did with them."""
    return {"inFile": 0, "existing": 0, "first": []}


def record_duplicate(record: dict, row, outcome: str) -> None:
    duplicates = record.setdefault("duplicates", new_duplicates())
    duplicates[row.duplicate] += 1
    if len(duplicates["first"]) < FIRST_ERRORS:
        duplicates["first"].append(
            {
                "line": row.line,
                "of": row.duplicate,
                "contactId": row.duplicate_of,
                "outcome": outcome,
            }
        )


def new_record(import_id: str, options: dict, file_name: str | None, size: int) -> dict:
    return {
        "id": import_id,
        "workspaceId": options["workspaceId"],
        "status": "queued",
        "fileName": file_name,
        "fileBytes": size,
        "dryRun": bool(options.get("dryRun")),
        "onDuplicate": options.get("onDuplicate") or "skip",
        "defaultCountry": options.get("defaultCountry"),
        "unmapped": options.get("unmapped") or "customFields",
        "requestedMapping": options.get("mapping"),
        "mapping": {},
        "unmappedColumns": [],
        "encoding": None,
        "delimiter": None,
        "counts": asdict(Counts()),
        "progress": {"rowsDone": 0, "rowsTotal": None, "percent": 0.0},
        "errors": [],
        "duplicates": new_duplicates(),
        "warnings": [],
        "attempts": 0,
        "failure": None,
        "checkpoint": {"line": 0, "errorsBytes": 0},
        "createdAt": utc_now(),
        "startedAt": None,
        "finishedAt": None,
    }


class ErrorsFile:
    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self):
        return self.handle, csv.writer(self.handle)

    def __exit__(self, *exc) -> None:
        self.handle.close()


def errors_writer(path: Path, record: dict) -> ErrorsFile:
    """errors.csv, cut back to the last checkpoint so a resumed run never repeats rows."""
    handle = path.open("a+", encoding="utf-8", newline="")
    handle.truncate(record["checkpoint"]["errorsBytes"])
    handle.seek(record["checkpoint"]["errorsBytes"])
    return ErrorsFile(handle)


def record_error(record: dict, writer, row: Row) -> None:
    message = "; ".join(
        p.message if p.field == "row" else f"{p.field}: {p.message}" for p in row.problems
    )
    # The file is opened in spreadsheets: cells are neutralized as the export's are.
    writer.writerow([row.line, neutralize(message), *map(neutralize, row.values)])
    if len(record["errors"]) < FIRST_ERRORS:
        for problem in row.problems:
            record["errors"].append(
                {
                    "line": row.line,
                    "field": problem.field,
                    "message": problem.message,
                    "value": problem.value[:200],
                }
            )
