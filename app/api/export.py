"""CSV export: every contact matching the search filters, streamed."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, request, stream_with_context
from flask_smorest import Blueprint
from marshmallow import fields

from app import services
from app.auth import current_principal, require_scope
from app.schemas.search import SearchQueryArgsSchema
from app.services.export import gzip_chunks

blp = Blueprint("export", __name__, url_prefix="/v1/contacts", description="CSV export.")

CSV_DOC = {
    "200": {
        "description": "CSV (UTF-8 with BOM); gzip when asked by Accept-Encoding or ?gzip=true.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class ExportArgsSchema(SearchQueryArgsSchema):
    """The search filters of GET /v1/contacts/search, without paging, plus gzip."""

    class Meta(SearchQueryArgsSchema.Meta):
        exclude = ("limit", "offset", "cursor")

    gzip = fields.Boolean(load_default=False, metadata={"description": "Download a .csv.gz file."})


def _sort(args: dict) -> str:
    """Relevance when there is a query; otherwise oldest first, a stable file order."""
    sort = args.get("sort")
    if not sort or (sort == "relevance" and not args.get("query")):
        return "createdAt:asc"
    return sort


def _wants_gzip_encoding() -> bool:
    return request.accept_encodings["gzip"] > 0


@blp.route("/export", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(ExportArgsSchema, location="query")
@blp.doc(responses=CSV_DOC)
def export_contacts(args):
    """Export contacts as CSV (all fields; tags and customFields included)."""
    workspace_id = args["workspaceId"]
    current_principal().require_workspace(workspace_id)
    export = services.export().export(
        workspace_id,
        query=args.get("query"),
        filters=args.get("filters"),
        sort=_sort(args),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"contacts-{workspace_id}-{stamp}.csv"
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    body, mimetype = iter(export), "text/csv; charset=utf-8"
    if args["gzip"]:
        body, mimetype, name = gzip_chunks(body), "application/gzip", name + ".gz"
    elif _wants_gzip_encoding():
        body = gzip_chunks(body)
        headers["Content-Encoding"] = "gzip"
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(stream_with_context(body), mimetype=mimetype, headers=headers)
