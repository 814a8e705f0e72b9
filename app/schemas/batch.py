"""Batch request and response schemas (/v1/contacts/batch/...).

The request schemas check the envelope only: a body that is not an object, unknown
top-level fields, `items` that is not a list or holds more than MAX_ITEMS entries are a
400 with nothing written. Each item is validated on its own by the service with the item
schemas below, so a bad item becomes an `invalid` result and never fails the others.
The OpenAPI document still shows each item's schema (`ItemsField` documents
`items: [<item schema>]`).
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.schemas.common import WORKSPACE_ID, ErrorBodySchema
from app.schemas.contacts import ContactFieldsSchema, ContactSchema, external_id_field

MAX_ITEMS = 1_000
UPSERT_KEYS = ("externalId", "phone", "email")
STATUSES = ("created", "updated", "unchanged", "found", "deleted", "not_found", "invalid")
CONTACT_ID = validate.Length(min=1, max=64)


class ItemsField(fields.List):
    """A list of raw items (each validated by the service), documented as `of` items."""

    def __init__(self, of: type[Schema], **kwargs) -> None:
        super().__init__(
            fields.Raw(),
            required=True,
            validate=validate.Length(min=1, max=MAX_ITEMS),
            **kwargs,
        )
        self.item_schema = of

    def _deserialize(self, value, attr, data, **kwargs):
        # The length first: 50,000 items are one 400, not a walk over 50,000 values.
        if isinstance(value, list) and len(value) > MAX_ITEMS:
            raise ValidationError(f"At most {MAX_ITEMS} items per call.")
        return super()._deserialize(value, attr, data, **kwargs)


def items_property(converter, field, **kwargs) -> dict:
    """OpenAPI for ItemsField (an apispec attribute function): an array of the item schema."""
    if not isinstance(field, ItemsField):
        return {}
    return {"items": converter.resolve_nested_schema(field.item_schema)}


# --- items -------------------------------------------------------------------------


class CreateItemSchema(ContactFieldsSchema):
    """A new contact of the call's workspace (the fields of POST /v1/contacts)."""


class UpdateItemSchema(ContactFieldsSchema):
    """Changes to one contact, by id; `null` clears an optional field (as PATCH)."""

    id = fields.String(required=True, validate=CONTACT_ID)

    @validates_schema
    def no_null_tag(self, data, **kwargs):
        if any(tag is None for tag in data.get("tags") or ()):
            raise ValidationError("Tags cannot be null.", "tags")


class UpsertItemSchema(ContactFieldsSchema):
    """A contact by the call's key: updated when the key is held, created otherwise."""


class RefItemSchema(Schema):
    """One contact, by `id` or by `externalId` (exactly one)."""

    class Meta:
        unknown = RAISE

    id = fields.String(validate=CONTACT_ID)
    externalId = external_id_field()

    @validates_schema
    def one_reference(self, data, **kwargs):
        if ("id" in data) == ("externalId" in data):
            raise ValidationError("Give either id or externalId.", "id")


# --- envelopes ---------------------------------------------------------------------


class BatchRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)


class BatchCreateSchema(BatchRequestSchema):
    items = ItemsField(CreateItemSchema)


class BatchUpdateSchema(BatchRequestSchema):
    items = ItemsField(UpdateItemSchema)


class BatchUpsertSchema(BatchRequestSchema):
    key = fields.String(
        required=True,
        validate=validate.OneOf(UPSERT_KEYS),
        metadata={
            "description": "What identifies a contact: externalId, or phone (compared as "
            "E.164) or email (compared lowercased). Every item must carry it."
        },
    )
    items = ItemsField(UpsertItemSchema)


class BatchRefsSchema(BatchRequestSchema):
    items = ItemsField(RefItemSchema)


class ItemResultSchema(Schema):
    index = fields.Integer(required=True, metadata={"description": "Position in `items`."})
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    id = fields.String(allow_none=True)
    contact = fields.Nested(ContactSchema, allow_none=True)
    error = fields.Nested(
        ErrorBodySchema, metadata={"description": "For `invalid`: the one error shape."}
    )


class SummarySchema(Schema):
    total = fields.Integer(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    found = fields.Integer(required=True)
    deleted = fields.Integer(required=True)
    notFound = fields.Integer(required=True)
    invalid = fields.Integer(required=True)


class BatchResultSchema(Schema):
    results = fields.List(
        fields.Nested(ItemResultSchema),
        required=True,
        metadata={"description": "One result per item, in input order."},
    )
    summary = fields.Nested(SummarySchema, required=True)
