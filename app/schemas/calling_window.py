"""Calling-window request and response schemas: the evaluation and the workspace policy.

Policy input is validated hard, because a dialer acts on it: clock times "HH:MM" with the
start before the end, weekday names in English lowercase, ISO dates, region keys that a
number can actually be matched to (a known ISO country, or a US state / Canadian
province the geocoder names), and bounded sizes everywhere. Anything else is a 400.
"""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.calling import rules
from app.calling.regions import DERIVABLE_SUBDIVISIONS
from app.schemas.common import WORKSPACE_ID, Timestamp
from app.schemas.contacts import COUNTRY
from app.schemas.dnc import campaign_field

MAX_PHONES = 1_000
MAX_PHONE_TEXT = 1_000
MAX_HOLIDAYS = 200
MAX_REGIONS = 100
# `at` far enough out to plan a campaign, near enough that the horizon never overflows.
EARLIEST_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(2200, 1, 1, tzinfo=UTC)
WEEKDAY = validate.OneOf(rules.WEEKDAYS, error="Use a weekday name: monday ... sunday.")


def _check(parse, text) -> None:
    try:
        parse(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _region_key(key: str) -> None:
    country, dash, _ = key.partition("-")
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError("Use an ISO 3166 country code (US) or a subdivision (US-FL).")
    if dash and key not in DERIVABLE_SUBDIVISIONS:
        raise ValidationError(
            "Subdivisions can be US states and Canadian provinces (US-FL, CA-QC): "
            "the only ones a number tells."
        )


class WindowSchema(Schema):
    class Meta:
        unknown = RAISE

    start = fields.String(
        required=True,
        validate=lambda text: _check(rules.parse_clock, text),
        metadata={
            "example": "08:00",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "description": "HH:MM, callee-local, inclusive.",
        },
    )
    end = fields.String(
        required=True,
        validate=lambda text: _check(lambda t: rules.parse_clock(t, end=True), text),
        metadata={
            "example": "21:00",
            "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
            "description": "HH:MM or 24:00, exclusive; after start.",
        },
    )

    @validates_schema
    def start_before_end(self, data, **kwargs):
        if "start" in data and "end" in data:
            try:
                rules.Window.parse(data)
            except ValueError as exc:
                raise ValidationError(str(exc), "end") from None


class DayWindowsSchema(Schema):
    class Meta:
        unknown = RAISE

    monday = fields.Nested(WindowSchema)
    tuesday = fields.Nested(WindowSchema)
    wednesday = fields.Nested(WindowSchema)
    thursday = fields.Nested(WindowSchema)
    friday = fields.Nested(WindowSchema)
    saturday = fields.Nested(WindowSchema)
    sunday = fields.Nested(WindowSchema, metadata={"example": {"start": "12:00", "end": "21:00"}})


def _holidays() -> fields.List:
    return fields.List(
        fields.String(
            validate=lambda text: _check(rules.parse_date, text),
            metadata={"format": "date", "example": "2026-12-25"},
        ),
        validate=validate.Length(max=MAX_HOLIDAYS),
        metadata={"description": "Callee-local dates with no calls (YYYY-MM-DD)."},
    )


class RuleSchema(Schema):
    """The fields of a rule; an override sets some and inherits the rest."""

    class Meta:
        unknown = RAISE

    window = fields.Nested(WindowSchema, metadata={"description": "Every day's window."})
    dayWindows = fields.Nested(
        DayWindowsSchema,
        metadata={"description": "Another window on some weekdays, e.g. sunday from 12:00."},
    )
    noCallDays = fields.List(
        fields.String(validate=WEEKDAY),
        validate=validate.Length(max=7),
        metadata={"description": "Weekdays with no calls at all.", "example": ["sunday"]},
    )
    holidays = _holidays()


class RegionRuleSchema(RuleSchema):
    @validates_schema
    def sets_something(self, data, **kwargs):
        if not data:
            fields_ = ", ".join(rules.RULE_FIELDS)
            raise ValidationError(f"An override sets at least one of {fields_}.")


def _at_most_regions(regions: dict) -> None:
    # A function, not validate.Length: apispec would document that as a string's maxLength.
    if len(regions) > MAX_REGIONS:
        raise ValidationError(f"At most {MAX_REGIONS} region overrides.")


class PolicySchema(RuleSchema):
    """A workspace's calling policy: the default rule and per-region overrides."""

    window = fields.Nested(
        WindowSchema,
        metadata={
            "description": "Every day's window; when left out, the service's default "
            "(CALLING_WINDOW_START/END, 08:00-21:00: the US federal TCPA hours)."
        },
    )
    regions = fields.Dict(
        keys=fields.String(validate=[validate.Length(max=6), _region_key]),
        values=fields.Nested(RegionRuleSchema),
        validate=_at_most_regions,
        metadata={
            "maxProperties": MAX_REGIONS,
            "description": "Overrides by ISO country (US) or subdivision (US-FL); a "
            "subdivision's override applies over its country's.",
            "example": {"US-FL": {"window": {"start": "08:00", "end": "20:00"}}},
        },
    )


class PolicyPutSchema(PolicySchema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)


class PolicyViewSchema(PolicySchema):
    workspaceId = fields.String(required=True)
    source = fields.String(
        required=True, metadata={"description": "workspace (stored) or default (never set)."}
    )
    updatedAt = fields.String(allow_none=True)
    updatedBy = fields.String(allow_none=True)


class PolicyEnvelopeSchema(Schema):
    data = fields.Nested(PolicyViewSchema, required=True)


class WorkspaceArgsSchema(Schema):
    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)


def _at() -> Timestamp:
    return Timestamp(
        load_default=None,
        validate=validate.Range(EARLIEST_AT, LATEST_AT, error="Use an instant in 1970-2199."),
        metadata={"description": "Evaluate at this ISO 8601 instant instead of now (naive: UTC)."},
    )


CAMPAIGN = (
    "The campaign dialing: its Do-Not-Call entries bar a number as well as the "
    "workspace-wide ones (the calls channel). Absent: workspace-wide entries only."
)


class ContactWindowArgsSchema(WorkspaceArgsSchema):
    at = _at()
    campaign = campaign_field(CAMPAIGN)


class EvaluateSchema(Schema):
    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    phones = fields.List(
        fields.String(validate=validate.Length(max=MAX_PHONE_TEXT)),
        required=True,
        validate=validate.Length(min=1, max=MAX_PHONES),
        metadata={"example": ["+12125550100", "(415) 555-1234"]},
    )
    at = _at()
    campaign = campaign_field(CAMPAIGN)
    defaultCountry = fields.String(
        load_default=None,
        validate=COUNTRY,
        metadata={"description": "Region for numbers typed without a country code."},
    )


class ZoneVerdictSchema(Schema):
    zone = fields.String(required=True, metadata={"example": "America/New_York"})
    localTime = fields.String(required=True, metadata={"example": "2026-11-29T09:30:00-05:00"})
    allowed = fields.Boolean(required=True)
    reason = fields.String(
        allow_none=True, metadata={"description": "outside_window, no_call_day or holiday."}
    )
    nextAllowedAt = fields.String(allow_none=True, metadata={"example": "2026-11-29T13:00:00Z"})
    allowedUntil = fields.String(allow_none=True, metadata={"example": "2026-11-30T02:00:00Z"})


class PhoneWindowSchema(Schema):
    original = fields.String(required=True)
    normalized = fields.String(allow_none=True, metadata={"example": "+12125550100"})
    isValid = fields.Boolean(required=True)
    validationErrors = fields.List(fields.String(), required=True)
    countryCode = fields.String(allow_none=True, metadata={"example": "US"})
    regionLabel = fields.String(
        allow_none=True,
        metadata={"description": "The geocoder's label.", "example": "New York, NY"},
    )
    subdivisions = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "ISO 3166-2 codes the number names; [] when unknown."},
    )
    timezoneSource = fields.String(
        required=True,
        metadata={"description": "number (libphonenumber), country (all its zones) or none."},
    )
    policyRules = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The policy layers applied (default, US, US-FL); all must allow."},
    )
    timezones = fields.List(
        fields.Nested(ZoneVerdictSchema),
        required=True,
        metadata={"description": "Each zone's verdict under the policy alone (not the DNC list)."},
    )
    dnc = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "On the workspace's Do-Not-Call list (then never allowed); null "
            "when the number is invalid or the list cannot answer (not allowed either)."
        },
    )
    allowed = fields.Boolean(
        required=True, metadata={"description": "Allowed in every candidate zone and rule."}
    )
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why not: outside_window, no_call_day, holiday, "
            "unknown_timezone, invalid_number, dnc_listed or dnc_unknown."
        },
    )
    nextAllowedAt = fields.String(
        allow_none=True,
        metadata={
            "description": "UTC instant of the next permitted start (the evaluation instant "
            "when allowed now); null with nextAllowedReason when there is none.",
            "example": "2026-11-29T13:00:00Z",
        },
    )
    nextAllowedReason = fields.String(
        allow_none=True,
        metadata={
            "description": "none_within_horizon, unknown_timezone, invalid_number, "
            "dnc_listed or dnc_unknown."
        },
    )
    allowedUntil = fields.String(
        allow_none=True,
        metadata={
            "description": "When allowed now: the UTC instant the permitted time ends (the "
            "first zone's window closing); null when not allowed, or open through the horizon.",
            "example": "2026-11-30T02:00:00Z",
        },
    )


class EvaluationMetaSchema(Schema):
    evaluatedAt = fields.String(required=True, metadata={"example": "2026-11-29T06:00:00Z"})
    policySource = fields.String(required=True, metadata={"description": "workspace or default"})
    policyUpdatedAt = fields.String(allow_none=True)
    horizonDays = fields.Integer(required=True)


class EvaluationSchema(Schema):
    data = fields.List(fields.Nested(PhoneWindowSchema), required=True)
    meta = fields.Nested(EvaluationMetaSchema, required=True)


class ContactWindowSchema(Schema):
    contactId = fields.String(required=True)
    workspaceId = fields.String(required=True)
    phones = fields.List(fields.Nested(PhoneWindowSchema), required=True)


class ContactEvaluationSchema(Schema):
    data = fields.Nested(ContactWindowSchema, required=True)
    meta = fields.Nested(EvaluationMetaSchema, required=True)
