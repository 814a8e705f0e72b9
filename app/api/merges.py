"""Duplicates and merges of contacts."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import services
from app.auth import current_principal, require_scope
from app.idempotency import HEADER_DOC, idempotent
from app.schemas.merges import (
    DuplicatesArgsSchema,
    DuplicatesSchema,
    MergeEnvelopeSchema,
    MergeRequestSchema,
    MergeResultSchema,
)

blp = Blueprint("merges", __name__, url_prefix="/v1/contacts", description="Duplicates and merges.")


@blp.route("/<string:contact_id>/duplicates", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(DuplicatesArgsSchema, location="query")
@blp.response(200, DuplicatesSchema)
def list_duplicates(args, contact_id):
    """Likely duplicates of a contact: same number or email, or close name at the same company."""
    workspaces = current_principal().workspaces
    return services.duplicates().find(contact_id, workspaces, args["limit"])


@blp.route("/merge", methods=["POST"])
@require_scope("contacts:write")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(MergeRequestSchema)
@blp.response(201, MergeResultSchema)
@blp.alt_response(200, schema=MergeResultSchema, description="This merge was made already.")
@blp.alt_response(409, description="A source is merged or being merged elsewhere.")
@blp.alt_response(422, description="The survivor would hold too many numbers, tags or fields.")
def merge_contacts(data):
    """Merge the sources into the target; the sources are gone from search on return."""
    principal = current_principal()
    principal.require_workspace(data["workspaceId"])
    record, survivor, created = services.merges().merge(data, principal.subject)
    location = {"Location": f"/v1/contacts/merges/{record['id']}"}
    return (
        {"data": {"merge": record, "contact": survivor.contact}},
        201 if created else 200,
        location,
    )


@blp.route("/merges/<string:merge_id>", methods=["GET"])
@require_scope("contacts:read")
@blp.response(200, MergeEnvelopeSchema)
def get_merge(merge_id):
    """A merge record: who merged what, when, and where each value came from."""
    return {"data": services.merges().record(merge_id, current_principal().workspaces)}
