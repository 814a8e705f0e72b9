"""`contacts import` and `contacts export`: CSV files in and out of a workspace.

Both run the services the HTTP API runs (ImportService, ExportService), with the same
validation, in this process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click
from marshmallow import ValidationError as SchemaValidationError
from tqdm import tqdm

from app.cli.context import wiring
from app.errors import ApiError
from app.schemas.imports import ImportOptionsSchema
from app.schemas.search import SearchRequestSchema
from app.services.export import INCOMPLETE_MARKER

workspace_option = click.option("--workspace", required=True, help="Workspace id, e.g. ws_abc123.")


def _fail(exc: ApiError) -> NoReturn:
    """The API's error, as the API words it: code, message, then one line per detail."""
    click.echo(f"{exc.code}: {exc.message}", err=True)
    for detail in exc.details or []:
        click.echo(f"  {detail.get('field', '')}: {detail.get('message', '')}", err=True)
    sys.exit(1)


def _invalid(exc: SchemaValidationError) -> NoReturn:
    click.echo(f"invalid options: {json.dumps(exc.messages)}", err=True)
    sys.exit(2)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@workspace_option
@click.option("--mapping", help='Header to field, JSON: {"Cell": "phone", "Org": "company"}.')
@click.option("--default-country", help="Region for numbers without +, e.g. GB (default US).")
@click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "update", "create"]),
    default="skip",
    show_default=True,
    help="A row whose phone or email matches an existing contact.",
)
@click.option(
    "--unmapped",
    type=click.Choice(["customFields", "ignore"]),
    default="customFields",
    show_default=True,
    help="Columns that map to no field.",
)
@click.option("--dry-run", is_flag=True, help="Validate every row, write nothing.")
def import_command(
    file: Path,
    workspace: str,
    mapping: str | None,
    default_country: str | None,
    on_duplicate: str,
    unmapped: str,
    dry_run: bool,
) -> None:
    """Import a CSV file of contacts into a workspace.

    The same path as POST /v1/contacts/import, run here whatever the file's size, with a
    progress bar on stderr. Prints
    the import's record (counts, mapping) as JSON, its warnings and the first row errors;
    exit status
    1 when the file is refused, 2 on invalid options.
    """
    raw = {
        "workspaceId": workspace,
        "onDuplicate": on_duplicate,
        "dryRun": dry_run,
        "unmapped": unmapped,
    }
    if mapping:
        raw["mapping"] = mapping
    if default_country:
        raw["defaultCountry"] = default_country
    try:
        options = ImportOptionsSchema().load(raw)
    except SchemaValidationError as exc:
        _invalid(exc)
    service = wiring().imports
    # The bar only on a terminal (disable=None): a log file gets the result alone.
    bar = tqdm(unit="rows", desc=file.name, file=sys.stderr, disable=None)

    def progress(record: dict) -> None:
        bar.total = record["progress"]["rowsTotal"]
        bar.update(record["progress"]["rowsDone"] - bar.n)

    try:
        with file.open("rb") as stream:
            record = service.create(stream, options, file.name, inline=True, progress=progress)
    except ApiError as exc:
        bar.close()
        _fail(exc)
    bar.close()
    click.echo(json.dumps({k: record[k] for k in ("id", "status", "counts", "mapping")}, indent=2))
    for warning in record.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    for error in record["errors"][:10]:
        click.echo(f"line {error['line']}: {error['field']}: {error['message']}", err=True)
    if record["counts"]["invalid"]:
        click.echo(f"error report: {service.errors_path(record)}", err=True)


@click.command("export")
@workspace_option
@click.option("--query", help="Search text (as GET /v1/contacts/search); default every contact.")
@click.option("--company", help="Only contacts of this company (exact, case-insensitive).")
@click.option("--tag", "tags", multiple=True, help="Only contacts with any of these tags; repeat.")
@click.option(
    "--dnc",
    type=click.BOOL,
    metavar="true|false",
    help="Only contacts on (true) or off (false) the DNC list, read from the list itself.",
)
@click.option(
    "--out",
    type=click.File("wb"),
    default="-",
    show_default="stdout",
    help="Where to write the CSV.",
)
def export_command(
    workspace: str, query: str | None, company: str | None, tags: tuple[str, ...], dnc, out
) -> None:
    """Export a workspace's contacts as CSV.

    UTF-8 with a BOM, every field, a column per custom field, read from one point in
    time: the same file as GET /v1/contacts/export. A file cut short ends with a row
    `#export-incomplete,<why>`, and the exit status is then 1.
    """
    filters: dict = {}
    if company is not None:
        filters["company"] = company
    if tags:
        filters["tags"] = list(tags)
    if dnc is not None:
        filters["dnc"] = dnc
    body = {"workspaceId": workspace, "filters": filters}
    if query:
        body["query"] = query
    try:
        args = SearchRequestSchema().load(body)
    except SchemaValidationError as exc:
        _invalid(exc)
    try:
        export = wiring().export.export(
            workspace, query=args.get("query"), filters=args["filters"], sort="createdAt:asc"
        )
    except ApiError as exc:
        _fail(exc)
    last = b""
    for chunk in export:
        out.write(chunk)
        last = chunk
    out.flush()
    if last.startswith(INCOMPLETE_MARKER.encode()):
        click.echo("export incomplete; run it again", err=True)
        sys.exit(1)


commands = (import_command, export_command)
