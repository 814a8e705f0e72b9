"""Duplicates and merges: request and response schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from app.schemas.common import WORKSPACE_ID, AsciiInteger
from app.schemas.contacts import BoundedList, ContactSchema

MAX_SOURCES = 20
MAX_CHOICES = 60
CONTACT_ID = validate.Length(min=1, max=64)
REASONS = ["samePhone", "sameEmail", "similarName+sameCompany"]


class MergeRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    targetId = fields.String(
        required=True, validate=CONTACT_ID, metadata={"description": "The contact that stays."}
    )
    sourceIds = BoundedList(
        fields.String(validate=CONTACT_ID),
        MAX_SOURCES,
        required=True,
        validate=validate.Length(min=1),
        metadata={
            "description": f"The contacts merged into the target and removed (1-{MAX_SOURCES}, "
            "each once, not the target)."
        },
    )
    fieldChoices = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=80)),
        values=fields.String(validate=CONTACT_ID),
        load_default=dict,
        validate=validate.Length(max=MAX_CHOICES),
        metadata={
            "description": "Field -> the id (target or a source) whose value the survivor "
            "takes: firstName, lastName, company, notes, source, phone and email (whose "
            "primary becomes the primary), customFields.<key>. Unnamed fields keep the "
            "target's value, or the first source's when the target has none.",
            "example": {"company": "contact_source1", "phone": "contact_source1"},
        },
    )


class ProvenanceSchema(Schema):
    """Where each value of the survivor came from: value -> contact id."""

    fields_ = fields.Dict(
        data_key="fields", attribute="fields", metadata={"description": "Scalar field -> id."}
    )
    phones = fields.Dict(metadata={"description": "E.164 number -> id."})
    emails = fields.Dict(metadata={"description": "Address -> id."})
    tags = fields.Dict(metadata={"description": "Tag -> id."})
    customFields = fields.Dict(metadata={"description": "Key -> id."})


class MergeSchema(Schema):
    id = fields.String(required=True, metadata={"example": "merge_Q2x9c1bV7mTfA0pL"})
    workspaceId = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={
            "enum": ["started", "completed", "aborted"],
            "description": "started: under way, or its process died (sending the merge "
            "again, or the worker, finishes it); aborted: another merge claimed a source.",
        },
    )
    targetId = fields.String(required=True)
    sourceIds = fields.List(fields.String(), required=True)
    fieldChoices = fields.Dict()
    actor = fields.String(allow_none=True, metadata={"description": "The token's subject."})
    createdAt = fields.String(required=True)
    completedAt = fields.String(allow_none=True)
    provenance = fields.Nested(ProvenanceSchema, allow_none=True)
    sources = fields.List(
        fields.Nested(ContactSchema), metadata={"description": "The sources as they were."}
    )


class MergeEnvelopeSchema(Schema):
    data = fields.Nested(MergeSchema, required=True)


class MergeOutcomeSchema(Schema):
    merge = fields.Nested(MergeSchema, required=True)
    contact = fields.Nested(ContactSchema, required=True, metadata={"description": "Survivor."})


class MergeResultSchema(Schema):
    data = fields.Nested(MergeOutcomeSchema, required=True)


class DuplicatesArgsSchema(Schema):
    limit = AsciiInteger(load_default=10, validate=validate.Range(min=1, max=50))


class DuplicateSchema(Schema):
    contact = fields.Nested(ContactSchema, required=True)
    score = fields.Float(
        required=True,
        metadata={"description": "0-1: each reason's weight, combined as independent evidence."},
    )
    reasons = fields.List(fields.String(metadata={"enum": REASONS}), required=True)


class DuplicatesMetaSchema(Schema):
    total = fields.Integer(required=True, metadata={"description": "Candidates found (≤ 100)."})
    contactId = fields.String(required=True)


class DuplicatesSchema(Schema):
    data = fields.List(fields.Nested(DuplicateSchema), required=True)
    meta = fields.Nested(DuplicatesMetaSchema, required=True)
