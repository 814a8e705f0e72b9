"""Contact search: typo-tolerant, as-you-type, with filters, highlights and cursors."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import services
from app.api.responses import dumped
from app.auth import current_principal, require_scope
from app.schemas.dumpers import compile_dumper
from app.schemas.search import SearchQueryArgsSchema, SearchRequestSchema, SearchResultSchema

SEARCH_RESULT = compile_dumper(SearchResultSchema)

blp = Blueprint("search", __name__, url_prefix="/v1/contacts", description="Contact search.")


def _search(args: dict) -> dict:
    current_principal().require_workspace(args["workspaceId"])
    result = services.search().search(
        args["workspaceId"],
        query=args.get("query"),
        filters=args.get("filters"),
        sort=args.get("sort"),
        limit=args["limit"],
        offset=args["offset"],
        cursor=args.get("cursor"),
    )
    return dumped(SEARCH_RESULT, result)


@blp.route("/search", methods=["POST"])
@require_scope("contacts:read")
@blp.arguments(SearchRequestSchema)
@blp.response(200, SearchResultSchema)
def search_contacts(args):
    """Search a workspace's contacts by name, company, email or phone."""
    return _search(args)


@blp.route("/search", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(SearchQueryArgsSchema, location="query")
@blp.response(200, SearchResultSchema)
def search_contacts_get(args):
    """Search with query parameters (filters flattened: company, tags, tagsAll, ...)."""
    return _search(args)
