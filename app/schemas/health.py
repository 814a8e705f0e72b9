"""Probe response schemas."""

from __future__ import annotations

from marshmallow import Schema, fields


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class CheckSchema(Schema):
    ok = fields.Boolean(required=True)
    ms = fields.Float(required=True)
    error = fields.String()


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema), required=True)
