"""Do-Not-Call request and response schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from app.schemas.common import WORKSPACE_ID, PageMetaSchema, Timestamp, WriteArgsSchema
from app.schemas.contacts import COUNTRY

MAX_CHECK = 10_000
MAX_REASON, MAX_SOURCE = 500, 100
# A header longer than this names no column a spreadsheet makes.
MAX_COLUMN_NAME = 200
# Dialers send whatever they hold; anything longer is reported invalid, not refused.
MAX_CHECK_PHONE = 1_000


def _reason() -> fields.String:
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_REASON),
        metadata={"example": "customer_request"},
    )


def _source() -> fields.String:
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_SOURCE),
        metadata={"example": "agent"},
    )


def _country() -> fields.String:
    return fields.String(
        load_default=None,
        validate=COUNTRY,
        metadata={"description": "Region for numbers typed without a country code."},
    )


class DncAddSchema(Schema):
    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phone = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "+14155551234"}
    )
    reason = _reason()
    source = _source()
    defaultCountry = _country()


class DncEntrySchema(Schema):
    workspaceId = fields.String(required=True)
    phone = fields.String(required=True, metadata={"example": "+14155551234"})
    reason = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    addedAt = fields.String(required=True, metadata={"example": "2026-01-31T12:00:00.000Z"})
    updatedAt = fields.String(required=True)


class DncAddMetaSchema(Schema):
    existed = fields.Boolean(
        required=True, metadata={"description": "The number was already listed."}
    )


class DncEntryEnvelopeSchema(Schema):
    data = fields.Nested(DncEntrySchema, required=True)
    meta = fields.Nested(DncAddMetaSchema, required=True)


class DncListArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    reason = fields.String(validate=validate.Length(max=MAX_REASON))
    source = fields.String(validate=validate.Length(max=MAX_SOURCE))
    addedAfter = Timestamp(
        format="iso", metadata={"description": "Entries added at or after (ISO 8601)."}
    )
    addedBefore = Timestamp(
        format="iso", metadata={"description": "Entries added before (ISO 8601)."}
    )


class DncListSchema(Schema):
    data = fields.List(fields.Nested(DncEntrySchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)


class DncRemoveArgsSchema(WriteArgsSchema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    reason = _reason()
    defaultCountry = _country()


class DncCheckArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phone = fields.String(required=True, validate=validate.Length(max=MAX_CHECK_PHONE))
    defaultCountry = _country()


class PhoneTextList(fields.List):
    """A list of phone strings, checked in one pass: a dialer's batch is up to 10,000 long,
    and a field object per item costs more than the cache lookup itself. The per-item
    String field still documents the items and reports the first bad one."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list) and all(
            type(item) is str and len(item) <= MAX_CHECK_PHONE for item in value
        ):
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)


class DncCheckRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phones = PhoneTextList(
        fields.String(validate=validate.Length(max=MAX_CHECK_PHONE)),
        required=True,
        validate=validate.Length(min=1, max=MAX_CHECK),
    )
    defaultCountry = _country()


class DncCheckResultSchema(Schema):
    phone = fields.String(required=True, metadata={"description": "As sent."})
    normalized = fields.String(allow_none=True, metadata={"example": "+14155551234"})
    valid = fields.Boolean(required=True)
    dnc = fields.Boolean(
        required=True,
        allow_none=True,
        metadata={
            "description": "true: listed, do not call. false: not listed. null: the input "
            "is not a valid number, so it cannot be decided (never treat null as callable)."
        },
    )
    reason = fields.String(allow_none=True, metadata={"description": "Why it was listed."})
    addedAt = fields.String(allow_none=True)
    validationErrors = fields.List(
        fields.String(),
        metadata={"description": "Why an invalid number could not be decided."},
    )


class DncCheckMetaSchema(Schema):
    source = fields.String(
        required=True,
        validate=validate.OneOf(["cache", "opensearch"]),
        metadata={"description": "cache, or opensearch when the cache could not answer."},
    )
    listed = fields.Integer()
    invalid = fields.Integer()


class DncCheckOneSchema(Schema):
    data = fields.Nested(DncCheckResultSchema, required=True)
    meta = fields.Nested(DncCheckMetaSchema, required=True)


class DncCheckManySchema(Schema):
    data = fields.List(fields.Nested(DncCheckResultSchema), required=True)
    meta = fields.Nested(DncCheckMetaSchema, required=True)


class DncHistoryArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phone = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.OneOf(["added", "updated", "removed"]))
    defaultCountry = _country()
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class DncEventSchema(Schema):
    id = fields.String(required=True)
    phone = fields.String(required=True)
    action = fields.String(required=True, metadata={"example": "added"})
    reason = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    actor = fields.String(allow_none=True, metadata={"description": "The token's subject."})
    at = fields.String(required=True)


class DncHistorySchema(Schema):
    data = fields.List(fields.Nested(DncEventSchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)


class DncImportArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    reason = _reason()
    source = fields.String(load_default="import", validate=validate.Length(max=MAX_SOURCE))
    phoneColumn = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=MAX_COLUMN_NAME),
        metadata={"description": "Header of the phone column; found by name when absent."},
    )
    defaultCountry = _country()


class DncImportRowErrorSchema(Schema):
    line = fields.Integer(required=True)
    value = fields.String(allow_none=True)
    message = fields.String(required=True)


class DncImportResultSchema(Schema):
    added = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    invalid = fields.Integer(required=True)
    errors = fields.List(fields.Nested(DncImportRowErrorSchema))


class DncImportEnvelopeSchema(Schema):
    data = fields.Nested(DncImportResultSchema, required=True)
