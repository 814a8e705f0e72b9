"""Consent request and response schemas (app/services/consent.py)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from app.schemas.common import WORKSPACE_ID, AsciiInteger, PageMetaSchema
from app.schemas.contacts import COUNTRY

MAX_EVIDENCE, MAX_SOURCE = 2_000, 100
CHANNEL_DOC = "calls, sms or all: what the person agreed to (or withdrew)."


def _phone() -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"example": "+14155551234", "description": "Any format; stored as E.164."},
    )


def _country() -> fields.String:
    return fields.String(
        load_default=None,
        validate=COUNTRY,
        metadata={"description": "Region for numbers typed without a country code."},
    )


class ConsentWriteSchema(Schema):
    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phone = _phone()
    status = fields.String(required=True, validate=validate.OneOf(["obtained", "revoked"]))
    channel = fields.String(
        load_default="all",
        validate=validate.OneOf(["calls", "sms", "all"]),
        metadata={"description": CHANNEL_DOC},
    )
    source = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_SOURCE),
        metadata={"example": "web_form"},
    )
    evidence = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_EVIDENCE),
        metadata={
            "description": "What proves it: the form's wording, a recording's id, ... "
            f"(at most {MAX_EVIDENCE} characters)."
        },
    )
    addToDnc = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "A revocation adds a DNC entry for the channel (reason and source "
            "consent_revoked). Absent: the workspace's setting (GET /v1/consents/settings)."
        },
    )
    defaultCountry = _country()


class ConsentSchema(Schema):
    workspaceId = fields.String(required=True)
    phone = fields.String(required=True, metadata={"example": "+14155551234"})
    channel = fields.String(required=True, metadata={"description": CHANNEL_DOC})
    status = fields.String(required=True, metadata={"example": "obtained"})
    source = fields.String(allow_none=True)
    evidence = fields.String(allow_none=True)
    actor = fields.String(allow_none=True, metadata={"description": "The token's subject."})
    at = fields.String(required=True, metadata={"description": "When this state was recorded."})
    eventId = fields.String(required=True, metadata={"description": "Its history event."})
    dncEntryId = fields.String(
        allow_none=True, metadata={"description": "The DNC entry a revocation added."}
    )


class ConsentWriteMetaSchema(Schema):
    current = fields.Boolean(
        required=True,
        metadata={
            "description": "false: a change recorded later (by the clock) is the current "
            "state; this one is kept in the history only."
        },
    )


class ConsentEnvelopeSchema(Schema):
    data = fields.Nested(ConsentSchema, required=True)
    meta = fields.Nested(ConsentWriteMetaSchema, required=True)


class ConsentArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phone = _phone()
    defaultCountry = _country()


class ConsentListSchema(Schema):
    data = fields.List(
        fields.Nested(ConsentSchema),
        required=True,
        metadata={"description": "The current state per channel recorded for the number."},
    )


class ConsentHistoryArgsSchema(ConsentArgsSchema):
    limit = AsciiInteger(load_default=20, validate=validate.Range(min=1, max=100))
    offset = AsciiInteger(load_default=0, validate=validate.Range(min=0))


class ConsentHistorySchema(Schema):
    data = fields.List(fields.Nested(ConsentSchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)


class ConsentSettingsArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)


class ConsentSettingsSchema(Schema):
    class Meta:
        unknown = RAISE

    revokeAddsDnc = fields.Boolean(
        required=True,
        metadata={"description": "Whether a revocation adds a DNC entry by default."},
    )


class ConsentSettingsEnvelopeSchema(Schema):
    data = fields.Nested(ConsentSettingsSchema, required=True)
