"""Contact request and response schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates

from app.contact_methods import EMAIL_TYPES, MAX_ENTRIES, PHONE_TYPES
from app.schemas.common import WORKSPACE_ID, AsciiInteger, PageMetaSchema

MAX_NAME = 200
MAX_NOTES = 10_000
MAX_TAGS, MAX_TAG = 50, 64
MAX_CUSTOM_FIELDS, MAX_CUSTOM_KEY, MAX_CUSTOM_VALUE = 50, 64, 1_000
COUNTRY = validate.Regexp(r"^[A-Za-z]{2}$", error="Must be an ISO 3166 alpha-2 code.")
MAX_EXTERNAL_ID, MAX_SOURCE = 255, 100


def _exact_key(value: str) -> None:
    # An external id is matched exactly (case and inner spaces count): control characters
    # or edge spaces would make two ids look equal to a person and differ to the engine.
    if not value.isprintable() or value != value.strip():
        raise ValidationError("Printable text without leading or trailing spaces.")


def external_id_field(**kwargs) -> fields.String:
    """The caller's own id of the contact (e.g. a CRM record id), unique per workspace."""
    return fields.String(
        validate=[validate.Length(min=1, max=MAX_EXTERNAL_ID), _exact_key],
        metadata={"description": "Your id of the contact; unique in the workspace."},
        **kwargs,
    )


def _text(maximum: int, **kwargs) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=maximum), **kwargs)


class CustomFieldsField(fields.Dict):
    """Flat key/value pairs: string keys, scalar values, bounded in count and size."""

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if len(result) > MAX_CUSTOM_FIELDS:
            raise ValidationError(f"At most {MAX_CUSTOM_FIELDS} custom fields.")
        for key, item in result.items():
            if not key or len(key) > MAX_CUSTOM_KEY:
                raise ValidationError(f"Keys must be 1-{MAX_CUSTOM_KEY} characters.")
            if item is not None and not isinstance(item, str | int | float | bool):
                raise ValidationError(f"Value of {key!r} must be a string, number or boolean.")
            if isinstance(item, str) and len(item) > MAX_CUSTOM_VALUE:
                raise ValidationError(f"Value of {key!r} exceeds {MAX_CUSTOM_VALUE} characters.")
        return result


class BoundedList(fields.List):
    """A list whose length is checked before its items are: a 50,000-item body is one
    400, not 50,000 item errors."""

    def __init__(self, inner, maximum: int, **kwargs) -> None:
        super().__init__(inner, **kwargs)
        self.maximum = maximum

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list) and len(value) > self.maximum:
            raise ValidationError(f"At most {self.maximum} entries.")
        return super()._deserialize(value, attr, data, **kwargs)


class PhoneEntrySchema(Schema):
    """One of a contact's numbers (input)."""

    class Meta:
        unknown = RAISE

    number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Any format; stored as E.164."},
    )
    type = fields.String(load_default="other", validate=validate.OneOf(PHONE_TYPES))
    primary = fields.Boolean(
        load_default=False,
        metadata={
            "description": "At most one; `phone` is the primary number. "
            "None flagged: the first one is primary."
        },
    )


class EmailEntrySchema(Schema):
    """One of a contact's email addresses (input)."""

    class Meta:
        unknown = RAISE

    address = fields.Email(required=True, validate=validate.Length(max=254))
    type = fields.String(load_default="other", validate=validate.OneOf(EMAIL_TYPES))
    primary = fields.Boolean(
        load_default=False,
        metadata={"description": "At most one; `email` is the primary address."},
    )


class PhoneSchema(Schema):
    number = fields.String(required=True, metadata={"example": "+14155551234"})
    type = fields.String(required=True, metadata={"enum": list(PHONE_TYPES)})
    primary = fields.Boolean(required=True)
    dnc = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "This number is on the workspace's DNC list for calls, "
            "workspace-wide (an exact or prefix entry for calls or all channels, no "
            "campaign scope); null when the list could not be read (never treat null as "
            "callable)."
        },
    )


class EmailSchema(Schema):
    address = fields.String(required=True, metadata={"example": "jane@acme.com"})
    type = fields.String(required=True, metadata={"enum": list(EMAIL_TYPES)})
    primary = fields.Boolean(required=True)


class ContactFieldsSchema(Schema):
    """The editable fields, shared by create, update and import."""

    class Meta:
        unknown = RAISE

    firstName = _text(MAX_NAME)
    lastName = _text(MAX_NAME)
    company = _text(MAX_NAME)
    phone = _text(64, metadata={"description": "Any format; stored as E.164."})
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phones = BoundedList(
        fields.Nested(PhoneEntrySchema),
        MAX_ENTRIES,
        allow_none=True,
        metadata={
            "description": f"Every number of the contact (at most {MAX_ENTRIES}); replaces "
            "the list. Repeats collapse; `phone` becomes the primary one."
        },
    )
    emails = BoundedList(
        fields.Nested(EmailEntrySchema),
        MAX_ENTRIES,
        allow_none=True,
        metadata={
            "description": f"Every address of the contact (at most {MAX_ENTRIES}); replaces "
            "the list. Repeats collapse; `email` becomes the primary one."
        },
    )
    notes = _text(MAX_NOTES)
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=MAX_TAG)),
        allow_none=True,
        validate=validate.Length(max=MAX_TAGS),
    )
    customFields = CustomFieldsField(keys=fields.String(), allow_none=True)
    externalId = external_id_field(allow_none=True)
    source = _text(MAX_SOURCE, metadata={"description": "Where the contact came from."})
    defaultCountry = fields.String(
        load_only=True,
        validate=COUNTRY,
        metadata={"description": "Region for phones typed without a country code."},
    )


class ContactCreateSchema(ContactFieldsSchema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)


class ContactUpdateSchema(ContactFieldsSchema):
    @pre_load
    def refuse_immutable(self, data, **kwargs):
        if isinstance(data, dict):
            frozen = [key for key in ("id", "workspaceId", "createdAt", "updatedAt") if key in data]
            if frozen:
                raise ValidationError({key: ["This field cannot be changed."] for key in frozen})
        return data

    @validates("tags")
    def no_null_tag(self, value, **kwargs):
        if value is not None and any(tag is None for tag in value):
            raise ValidationError("Tags cannot be null.")


class ContactSchema(Schema):
    id = fields.String(required=True, metadata={"example": "contact_Jd8wB2mQ7nTq4kLx"})
    workspaceId = fields.String(required=True)
    firstName = fields.String(allow_none=True)
    lastName = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"example": "+14155551234"})
    email = fields.String(allow_none=True)
    phones = fields.List(
        fields.Nested(PhoneSchema),
        metadata={"description": "Every number, the primary (= `phone`) first."},
    )
    emails = fields.List(
        fields.Nested(EmailSchema),
        metadata={"description": "Every address, the primary (= `email`) first."},
    )
    company = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    customFields = fields.Dict()
    externalId = fields.String(allow_none=True, metadata={"example": "crm-00042"})
    source = fields.String(allow_none=True, metadata={"example": "hubspot"})
    dnc = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "Any of the contact's numbers (`phones`) is on the workspace's "
            "DNC list; null when the list could not be read (never treat null as callable). "
            "Any number, not only the primary: a dialer that filters on `dnc=false` must "
            "never get a contact it could reach on a listed number; each number's own "
            "state is `phones[].dnc`. Listed means listed for calls, workspace-wide: an "
            "entry scoped to one campaign or only to sms does not set it (ask "
            "GET /v1/dnc/check with campaign and channel). The stored copy behind the "
            "search and export filter is cleared by the reconciler's next pass after an "
            "entry expires: it may read listed a little after the expiry, never callable "
            "before it."
        },
    )
    createdAt = fields.String(required=True, metadata={"example": "2026-01-31T12:00:00.000Z"})
    updatedAt = fields.String(required=True)


class ContactEnvelopeSchema(Schema):
    data = fields.Nested(ContactSchema, required=True)


class ContactListArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    limit = AsciiInteger(load_default=20, validate=validate.Range(min=1, max=100))
    offset = AsciiInteger(load_default=0, validate=validate.Range(min=0))
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=4096),
        metadata={"description": "meta.nextCursor of the previous page; pages any depth."},
    )
    externalId = external_id_field(load_default=None)
    source = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=MAX_SOURCE),
        metadata={"description": "Only contacts of this source (exact)."},
    )


class ContactListSchema(Schema):
    data = fields.List(fields.Nested(ContactSchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)
