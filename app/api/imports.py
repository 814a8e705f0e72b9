"""CSV import of contacts: upload, job status, error report."""

from __future__ import annotations

from flask import request, send_file, url_for
from flask_smorest import Blueprint

from app import services
from app.api.uploads import allow_large_uploads, csv_upload
from app.auth import current_principal, require_scope
from app.idempotency import HEADER_DOC, idempotent
from app.schemas.imports import ImportEnvelopeSchema, ImportOptionsSchema

blp = Blueprint("imports", __name__, url_prefix="/v1/contacts", description="CSV import.")
blp.before_request(allow_large_uploads)
UPLOAD_DOC = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "workspaceId"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "workspaceId": {"type": "string"},
                    "mapping": {"type": "string", "description": "JSON object"},
                    "defaultCountry": {"type": "string"},
                    "onDuplicate": {"type": "string", "enum": ["skip", "update", "create"]},
                    "dryRun": {"type": "boolean"},
                    "unmapped": {"type": "string", "enum": ["customFields", "ignore"]},
                },
            }
        },
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
    },
}


def _present(record: dict) -> dict:
    has_errors = record["counts"]["invalid"] > 0
    url = url_for("imports.import_errors", import_id=record["id"]) if has_errors else None
    return {**record, "errorsUrl": url}


@blp.route("/import", methods=["POST"])
@require_scope("contacts:write")
@idempotent
@blp.doc(
    requestBody=UPLOAD_DOC,
    parameters=[{"in": "query", "schema": ImportOptionsSchema}, HEADER_DOC],
)
@blp.response(200, ImportEnvelopeSchema, description="Small file: imported, with the result.")
@blp.alt_response(202, schema=ImportEnvelopeSchema, description="Queued: poll the import.")
@blp.alt_response(413, description="The file is too large.")
@blp.alt_response(415, description="Not multipart/form-data nor text/csv.")
@blp.alt_response(422, description="The file is not CSV or breaks a limit.")
@blp.alt_response(507, description="The workspace's import files are at their size limit.")
def import_contacts():
    """Import contacts from a CSV file (small files at once, large ones in the background)."""
    stream, file_name = csv_upload()
    options = ImportOptionsSchema().load({**request.args.to_dict(), **request.form.to_dict()})
    current_principal().require_workspace(options["workspaceId"])
    record = services.imports().create(stream, options, file_name)
    if record["status"] in ("queued", "running"):
        location = url_for("imports.get_import", import_id=record["id"])
        return {"data": _present(record)}, 202, {"Location": location}
    return {"data": _present(record)}


@blp.route("/imports/<string:import_id>", methods=["GET"])
@require_scope("contacts:read")
@blp.response(200, ImportEnvelopeSchema)
def get_import(import_id):
    """Status, progress, counts and the first errors of an import."""
    record = services.imports().get(import_id, current_principal().workspaces)
    return {"data": _present(record)}


@blp.route("/imports/<string:import_id>/errors.csv", methods=["GET"])
@require_scope("contacts:read")
@blp.doc(responses={"200": {"description": "The failed rows, with an error column."}})
def import_errors(import_id):
    """The rows that were not imported, each with its line number and error."""
    path = services.imports().errors_file(import_id, current_principal().workspaces)
    # conditional=False: a precondition failure must come in the one JSON error shape,
    # not as werkzeug's 412 around the file (the report is small; no ranges needed).
    return send_file(
        path,
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"{import_id}-errors.csv",
        conditional=False,
    )
