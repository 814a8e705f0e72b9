"""Change feed request and response schemas (GET /v1/contacts/changes)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.common import WORKSPACE_ID, AsciiInteger
from app.schemas.contacts import ContactSchema

CHANGE_TYPES = [
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "dnc.added",
    "dnc.updated",
    "dnc.removed",
    "dnc.expired",
]


class ChangesArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "meta.nextCursor of the previous page (signed, opaque)."},
    )
    limit = AsciiInteger(load_default=100, validate=validate.Range(min=1, max=1000))
    start = fields.String(
        data_key="from",
        load_default="oldest",
        validate=validate.OneOf(["oldest", "now"]),
        metadata={
            "description": "Without a cursor: start at the oldest retained change (default) "
            "or at the head (`now`: only changes made from now on)."
        },
    )


class DncChangeSchema(Schema):
    phone = fields.String(metadata={"example": "+14155551234"})
    prefix = fields.String(metadata={"description": "A prefix rule's prefix (rule: prefix)."})
    rule = fields.String(metadata={"description": "Set for rule entries: prefix, or exact."})
    listed = fields.Boolean(required=True, metadata={"description": "Listed after the change."})
    reason = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    scope = fields.String(allow_none=True, metadata={"description": "A campaign scope."})
    channel = fields.String(allow_none=True)
    expiresAt = fields.String(allow_none=True)


class ChangeSchema(Schema):
    id = fields.String(
        required=True,
        metadata={"description": "Unique event id (`<workspace>:<seq>`); receivers dedupe by it."},
    )
    seq = fields.Integer(required=True, metadata={"description": "Position in the feed."})
    type = fields.String(required=True, metadata={"enum": CHANGE_TYPES})
    at = fields.String(required=True, metadata={"description": "When the change was recorded."})
    contactId = fields.String()
    externalId = fields.String(allow_none=True)
    deletedAt = fields.String(metadata={"description": "Tombstones (contact.deleted) only."})
    contact = fields.Nested(
        ContactSchema,
        metadata={"description": "The contact's state after the change (created, updated)."},
    )
    dnc = fields.Nested(DncChangeSchema, metadata={"description": "DNC changes only."})


class ChangesMetaSchema(Schema):
    nextCursor = fields.String(
        required=True, metadata={"description": "Resume from here (also when data is empty)."}
    )
    hasMore = fields.Boolean(
        required=True, metadata={"description": "More changes are ready now; else poll later."}
    )


class ChangesPageSchema(Schema):
    data = fields.List(fields.Nested(ChangeSchema), required=True)
    meta = fields.Nested(ChangesMetaSchema, required=True)
