"""Schemas shared by every resource: the error shape, paging meta, write options."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

WORKSPACE_ID = validate.Regexp(r"^ws_[A-Za-z0-9_-]{1,64}$", error="Must look like ws_abc123.")


class ErrorDetailSchema(Schema):
    field = fields.String()
    message = fields.String()


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    details = fields.List(fields.Nested(ErrorDetailSchema))


class ErrorSchema(Schema):
    """The one error shape: {"error": {"code", "message", "details"}}."""

    error = fields.Nested(ErrorBodySchema, required=True)


class PageMetaSchema(Schema):
    total = fields.Integer(required=True)
    hasMore = fields.Boolean(required=True)
    totalIsExact = fields.Boolean()
    nextCursor = fields.String(allow_none=True)


class WriteArgsSchema(Schema):
    """Query options of every write."""

    refresh = fields.String(
        load_default=None,
        validate=validate.OneOf(["wait_for", "true", "false"]),
        metadata={"description": "wait_for: return once the change is visible to search."},
    )


class WorkspaceArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
