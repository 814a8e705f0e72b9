"""Batch writes and reads of contacts: up to 1,000 items per call, a result per item.

A call counts as one request against the caller's rate limit (`contacts:write`, or
`contacts:read` for batch/read): the per-call bound of 1,000 items and the body size
limit bound what one request can do, as they bound a CSV import.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from app import services
from app.api.responses import dumped
from app.auth import current_principal, require_scope
from app.idempotency import HEADER_DOC, idempotent
from app.schemas.batch import (
    BatchCreateSchema,
    BatchRefsSchema,
    BatchResultSchema,
    BatchUpdateSchema,
    BatchUpsertSchema,
)
from app.schemas.common import WriteArgsSchema
from app.schemas.dumpers import compile_dumper

RESULT = compile_dumper(BatchResultSchema)

blp = Blueprint(
    "batch",
    __name__,
    url_prefix="/v1/contacts/batch",
    description="Batch create, update, upsert, read and delete (up to 1,000 items per call).",
)


@blp.route("/create", methods=["POST"])
@require_scope("contacts:write")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(BatchCreateSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(200, BatchResultSchema)
def batch_create(body, options):
    """Create contacts; one with an externalId already in use is `invalid` (409)."""
    current_principal().require_workspace(body["workspaceId"])
    result = services.batch().create(body["workspaceId"], body["items"], **options)
    return dumped(RESULT, result)


@blp.route("/update", methods=["POST"])
@require_scope("contacts:write")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(BatchUpdateSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(200, BatchResultSchema)
def batch_update(body, options):
    """Change contacts by id, as PATCH does; `unchanged` when nothing differs."""
    current_principal().require_workspace(body["workspaceId"])
    result = services.batch().update(body["workspaceId"], body["items"], **options)
    return dumped(RESULT, result)


@blp.route("/upsert", methods=["POST"])
@require_scope("contacts:write")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(BatchUpsertSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(200, BatchResultSchema)
def batch_upsert(body, options):
    """Update the contact holding each item's key, or create it; never two per key."""
    current_principal().require_workspace(body["workspaceId"])
    batch = services.batch()
    result = batch.upsert(body["workspaceId"], body["key"], body["items"], **options)
    return dumped(RESULT, result)


@blp.route("/read", methods=["POST"])
@require_scope("contacts:read")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(BatchRefsSchema)
@blp.response(200, BatchResultSchema)
def batch_read(body):
    """Contacts by id or externalId, real-time: `found` or `not_found` per item."""
    current_principal().require_workspace(body["workspaceId"])
    return dumped(RESULT, services.batch().read(body["workspaceId"], body["items"]))


@blp.route("/delete", methods=["POST"])
@require_scope("contacts:write")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(BatchRefsSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(200, BatchResultSchema)
def batch_delete(body, options):
    """Delete contacts by id or externalId: `deleted` or `not_found` per item."""
    current_principal().require_workspace(body["workspaceId"])
    result = services.batch().delete(body["workspaceId"], body["items"], **options)
    return dumped(RESULT, result)
