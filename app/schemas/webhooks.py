"""Webhook subscription request and response schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from app.schemas.common import WORKSPACE_ID


class WebhookCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={
            "description": "http(s) URL that receives each change as a signed POST; "
            "private, loopback, link-local and metadata addresses are refused.",
            "example": "https://crm.example.com/hooks/contacts",
        },
    )


class WebhookUpdateSchema(Schema):
    class Meta:
        unknown = RAISE

    paused = fields.Boolean(
        required=True,
        metadata={"description": "false resumes a paused subscription; true pauses it."},
    )


class WebhookListArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)


class WebhookAttemptSchema(Schema):
    at = fields.String(required=True)
    eventId = fields.String(required=True)
    status = fields.Integer(allow_none=True, metadata={"description": "HTTP status, if any."})
    error = fields.String(allow_none=True)
    ms = fields.Float(metadata={"description": "How long the attempt took."})


class WebhookSchema(Schema):
    id = fields.String(required=True, metadata={"example": "wh_Jd8wB2mQ7nTq4kLx"})
    workspaceId = fields.String(required=True)
    url = fields.String(required=True)
    createdAt = fields.String(required=True)
    paused = fields.Boolean(
        required=True, metadata={"description": "Stopped after repeated failures; resume it."}
    )
    failures = fields.Integer(required=True, metadata={"description": "Consecutive failures."})
    nextAttemptAt = fields.String(
        required=True, metadata={"description": "Next delivery attempt (retry backoff)."}
    )
    delivered = fields.Integer(required=True)
    position = fields.Integer(metadata={"description": "Feed position delivered up to."})
    attempts = fields.List(
        fields.Nested(WebhookAttemptSchema),
        metadata={"description": "Last attempts, newest first."},
    )


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        required=True,
        metadata={
            "description": "HMAC-SHA256 key of X-Contacts-Signature; shown only in this answer."
        },
    )


class WebhookEnvelopeSchema(Schema):
    data = fields.Nested(WebhookSchema, required=True)


class WebhookCreatedEnvelopeSchema(Schema):
    data = fields.Nested(WebhookCreatedSchema, required=True)


class WebhookListSchema(Schema):
    data = fields.List(fields.Nested(WebhookSchema), required=True)
