"""Normalize request and response schemas."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.schemas.contacts import COUNTRY

MAX_BATCH = 1_000


class NormalizeRequestSchema(Schema):
    phone = fields.String(validate=validate.Length(max=1_000))
    phones = fields.List(
        fields.String(validate=validate.Length(max=1_000)),
        validate=validate.Length(min=1, max=MAX_BATCH),
    )
    defaultCountry = fields.String(load_default=None, validate=COUNTRY)

    @validates_schema
    def one_form(self, data, **kwargs):
        if ("phone" in data) == ("phones" in data):
            raise ValidationError("Send either phone or phones.", "phone")


class PhoneInfoSchema(Schema):
    original = fields.String(required=True)
    normalized = fields.String(allow_none=True, metadata={"example": "+14155551234"})
    isValid = fields.Boolean(required=True)
    countryCode = fields.String(allow_none=True, metadata={"example": "US"})
    areaCode = fields.String(allow_none=True, metadata={"example": "415"})
    isPossible = fields.Boolean()
    numberType = fields.String(allow_none=True)
    validationErrors = fields.List(fields.String())
    extension = fields.String(allow_none=True)
    nationalFormat = fields.String(allow_none=True)
    internationalFormat = fields.String(allow_none=True)
    regionUsed = fields.String()
    timezones = fields.List(fields.String())


class PhoneInfoOrList(fields.Field):
    """One PhoneInfo (the `phone` form) or a list of them (the `phones` form)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return PHONE_INFO.dump(value, many=isinstance(value, list))


def one_or_many_property(converter, field, **kwargs) -> dict:
    """OpenAPI for PhoneInfoOrList (an apispec attribute function, bound to the field
    converter): oneOf both forms."""
    if not isinstance(field, PhoneInfoOrList):
        return {}
    ref = {"$ref": "#/components/schemas/PhoneInfo"}
    return {"oneOf": [ref, {"type": "array", "items": ref}]}


class NormalizeResponseSchema(Schema):
    data = PhoneInfoOrList(
        required=True,
        metadata={"description": "A PhoneInfo object; a list of them for the `phones` form."},
    )


PHONE_INFO = PhoneInfoSchema()
