"""Import a CSV file of contacts from the command line, with a progress bar.

Same code path as POST /v1/contacts/import (ImportService.create), run in this process:

    python scripts/import_csv.py contacts.csv --workspace ws_abc123 --on-duplicate update
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marshmallow import ValidationError as SchemaValidationError  # noqa: E402
from tqdm import tqdm  # noqa: E402

from app.errors import ApiError  # noqa: E402
from app.jobs import config_dict  # noqa: E402
from app.schemas.imports import ImportOptionsSchema  # noqa: E402
from app.wiring import Wiring  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--mapping", help='JSON, e.g. {"Cell": "phone", "Org": "company"}')
    parser.add_argument("--default-country")
    parser.add_argument("--on-duplicate", default="skip", choices=["skip", "update", "create"])
    parser.add_argument("--unmapped", default="customFields", choices=["customFields", "ignore"])
    parser.add_argument("--dry-run", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raw = {
        "workspaceId": args.workspace,
        "onDuplicate": args.on_duplicate,
        "dryRun": args.dry_run,
        "unmapped": args.unmapped,
    }
    if args.mapping:
        raw["mapping"] = args.mapping
    if args.default_country:
        raw["defaultCountry"] = args.default_country
    service = Wiring(config_dict(), background=True).imports
    bar = tqdm(unit="rows", desc=args.file.name, file=sys.stderr)

    def progress(record: dict) -> None:
        bar.total = record["progress"]["rowsTotal"]
        bar.update(record["progress"]["rowsDone"] - bar.n)

    try:
        options = ImportOptionsSchema().load(raw)
        with args.file.open("rb") as stream:
            record = service.create(stream, options, args.file.name, inline=True, progress=progress)
    except SchemaValidationError as exc:
        print(f"invalid options: {exc.messages}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"{exc.code}: {exc.message} {exc.details or ''}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    print(json.dumps({k: record[k] for k in ("id", "status", "counts", "mapping")}, indent=2))
    for error in record["errors"][:10]:
        print(f"line {error['line']}: {error['field']}: {error['message']}", file=sys.stderr)
    if record["counts"]["invalid"]:
        print(f"error report: {service.errors_path(record)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
