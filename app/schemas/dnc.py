"""Do-Not-Call request and response schemas."""

from __future__ import annotations

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from app.dnc.rules import SCOPE_PATTERN
from app.schemas.common import (
    WORKSPACE_ID,
    AsciiInteger,
    PageMetaSchema,
    Timestamp,
    WriteArgsSchema,
)
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


def _scope(description: str) -> fields.String:
    return fields.String(
        load_default=None,
        validate=validate.Regexp(
            SCOPE_PATTERN, error="1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)."
        ),
        metadata={"description": description, "example": "spring-promo"},
    )


def campaign_field(description: str) -> fields.String:
    """A campaign name, as the DNC checks take it (the calling window asks the same)."""
    return _scope(description)


def _channel(choices: tuple, default, description: str) -> fields.String:
    return fields.String(
        load_default=default,
        validate=validate.OneOf(choices),
        metadata={"description": description},
    )


def _rule() -> fields.String:
    return fields.String(
        load_default="exact",
        validate=validate.OneOf(["exact", "prefix"]),
        metadata={
            "description": "exact: one number (`phone`). prefix: every number that starts "
            "with `prefix`, e.g. a whole area code (+1201) or a premium range (+44909)."
        },
    )


PREFIX_DOC = "An E.164 prefix: '+', a known country code, 1-14 ASCII digits in all (+1201)."
ENTRY_SCOPE = "A campaign or list name; absent: the whole workspace (every campaign)."
ENTRY_CHANNEL = "calls, sms or all (default): the channel the entry forbids."


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
    rule = _rule()
    phone = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"example": "+14155551234", "description": "The number (rule exact)."},
    )
    prefix = fields.String(
        validate=validate.Length(min=2, max=64),
        metadata={"example": "+1201", "description": PREFIX_DOC + " (rule prefix)"},
    )
    scope = _scope(ENTRY_SCOPE)
    channel = _channel(("calls", "sms", "all"), "all", ENTRY_CHANNEL)
    expiresAt = Timestamp(
        load_default=None,
        format="iso",
        metadata={
            "description": "When the entry stops matching (ISO 8601 UTC, in the future); "
            "absent: never. It is listed until then, never less."
        },
    )
    reason = _reason()
    source = _source()
    defaultCountry = _country()

    @validates_schema
    def _one_target(self, data, **kwargs):
        wanted = "prefix" if data.get("rule") == "prefix" else "phone"
        other = "phone" if wanted == "prefix" else "prefix"
        if not data.get(wanted):
            raise ValidationError(f"Required for rule {data.get('rule')}.", wanted)
        if data.get(other) is not None:
            raise ValidationError(f"Not allowed for rule {data.get('rule')}.", other)

    @post_load
    def _target(self, data, **kwargs):
        data["target"] = data.pop("prefix", None) or data.pop("phone", None)
        return data


class DncEntrySchema(Schema):
    id = fields.String(
        required=True,
        metadata={
            "description": "`<ws>:<e164>` for an exact, workspace-wide, all-channel "
            "entry; `<ws>:r:<digest of the rule>` otherwise (adding it again updates it)."
        },
    )
    workspaceId = fields.String(required=True)
    rule = fields.String(required=True, metadata={"example": "exact"})
    phone = fields.String(allow_none=True, metadata={"example": "+14155551234"})
    prefix = fields.String(allow_none=True, metadata={"example": "+1201"})
    scope = fields.String(allow_none=True, metadata={"description": ENTRY_SCOPE})
    channel = fields.String(required=True, metadata={"description": ENTRY_CHANNEL})
    expiresAt = fields.String(allow_none=True, metadata={"description": "null: never."})
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
    limit = AsciiInteger(load_default=20, validate=validate.Range(min=1, max=100))
    offset = AsciiInteger(load_default=0, validate=validate.Range(min=0))
    reason = fields.String(validate=validate.Length(max=MAX_REASON))
    source = fields.String(validate=validate.Length(max=MAX_SOURCE))
    rule = fields.String(validate=validate.OneOf(["exact", "prefix"]))
    scope = _scope("Only this campaign's entries.")
    channel = fields.String(validate=validate.OneOf(["calls", "sms", "all"]))
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
    rule = _rule()
    scope = _scope("The entry's campaign; absent: the workspace-wide entry.")
    channel = _channel(("calls", "sms", "all"), "all", "The entry's channel.")


CHECK_CAMPAIGN = "The campaign dialing: its entries match as well as workspace-wide ones."
CHECK_CHANNEL = "calls (default) or sms: entries for that channel or for all match."


class DncCheckArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phone = fields.String(required=True, validate=validate.Length(max=MAX_CHECK_PHONE))
    defaultCountry = _country()
    campaign = _scope(CHECK_CAMPAIGN)
    channel = _channel(("calls", "sms"), "calls", CHECK_CHANNEL)


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
    campaign = _scope(CHECK_CAMPAIGN)
    channel = _channel(("calls", "sms"), "calls", CHECK_CHANNEL)


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
    match = fields.Nested(
        DncEntrySchema,
        allow_none=True,
        metadata={
            "description": "The entry that lists the number (the most specific when several "
            "do: exact before prefix, longer prefix first, scoped first). Evidence read "
            "after the flag was decided: null if the record could not be read."
        },
    )
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
    campaign = fields.String(allow_none=True)
    channel = fields.String(metadata={"example": "calls"})
    version = fields.Integer(
        allow_none=True,
        metadata={
            "description": "The list's version: how many changes (adds, updates, removals, "
            "expiries) it has seen. null when the cache could not say."
        },
    )
    checkedAt = fields.String(
        metadata={"description": "The clock the answer (and every expiry) was read at."}
    )


class DncCheckOneSchema(Schema):
    data = fields.Nested(DncCheckResultSchema, required=True)
    meta = fields.Nested(DncCheckMetaSchema, required=True)


class DncCheckManySchema(Schema):
    data = fields.List(fields.Nested(DncCheckResultSchema), required=True)
    meta = fields.Nested(DncCheckMetaSchema, required=True)


class DncHistoryArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phone = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.OneOf(["added", "updated", "removed", "expired"]))
    defaultCountry = _country()
    limit = AsciiInteger(load_default=20, validate=validate.Range(min=1, max=100))
    offset = AsciiInteger(load_default=0, validate=validate.Range(min=0))


class DncEventSchema(Schema):
    id = fields.String(required=True)
    phone = fields.String(allow_none=True)
    entryId = fields.String(allow_none=True)
    rule = fields.String(allow_none=True)
    prefix = fields.String(allow_none=True)
    scope = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    expiresAt = fields.String(allow_none=True)
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
