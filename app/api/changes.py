"""The change feed: every change of a workspace's contacts and DNC list, in order."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import services
from app.api.responses import dumped
from app.auth import current_principal, require_scope
from app.schemas.changes import ChangesArgsSchema, ChangesPageSchema
from app.schemas.dumpers import compile_dumper

CHANGES_PAGE = compile_dumper(ChangesPageSchema)

blp = Blueprint("changes", __name__, url_prefix="/v1/contacts/changes", description="Change feed.")


@blp.route("", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(ChangesArgsSchema, location="query")
@blp.response(200, ChangesPageSchema)
@blp.alt_response(410, description="The cursor is older than the retention (cursor_expired).")
def list_changes(args):
    """Changes in the order they happened; follow `meta.nextCursor` (410: resync)."""
    current_principal().require_workspace(args["workspaceId"])
    page = services.changes().page(
        args["workspaceId"], cursor=args["cursor"], limit=args["limit"], start=args["start"]
    )
    return dumped(CHANGES_PAGE, page)
