"""Schemas shared by every resource: the error shape, paging meta, write options."""

from __future__ import annotations

import re
from datetime import UTC

from marshmallow import Schema, ValidationError, fields, validate

WORKSPACE_ID = validate.Regexp(r"^ws_[A-Za-z0-9_-]{1,64}$", error="Must look like ws_abc123.")
_ASCII_INTEGER = re.compile(r"-?[0-9]+")


class AsciiInteger(fields.Integer):
    """An integer; as text, only ASCII digits with an optional minus sign.

    Python's int() (and so marshmallow's Integer) also reads "١٠", "１０", "1_0", " 10 "
    and "+10" as 10: none of those is a number a client meant to send, and a value that
    means something other than what a log or a proxy shows is how filters get bypassed.
    """

    def _validated(self, value):
        if isinstance(value, str) and not _ASCII_INTEGER.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class ErrorDetailSchema(Schema):
    field = fields.String()
    message = fields.String()


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    details = fields.List(fields.Nested(ErrorDetailSchema))


class ErrorSchema(Schema):
    """The one error shape: {"error": {"code", "message", "details"}}."""

    error = fields.Nested(ErrorBodySchema, required=True)


class PageMetaSchema(Schema):
    total = fields.Integer(required=True)
    hasMore = fields.Boolean(required=True)
    totalIsExact = fields.Boolean()
    nextCursor = fields.String(allow_none=True)


class WriteArgsSchema(Schema):
    """Query options of every write."""

    refresh = fields.String(
        load_default=None,
        validate=validate.OneOf(["wait_for", "true", "false"]),
        metadata={"description": "wait_for: return once the change is visible to search."},
    )


class Timestamp(fields.DateTime):
    """An ISO 8601 date-time filter bound, as an aware UTC datetime (naive means UTC).

    Dates a search engine cannot compare (year 1 with a +22:34 offset, say) are a 400,
    not an overflow deep in the service.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Date out of range.") from None
        if not 1900 <= parsed.year <= 9999:
            raise ValidationError("Use a year between 1900 and 9999.")
        return parsed
