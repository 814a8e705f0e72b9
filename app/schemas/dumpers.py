"""Precompiled response dumpers: what `Schema().dump(data)` returns, without marshmallow's
per-value machinery, for the hot response paths (search hits, contact pages, one contact).

The schema stays the contract: it documents the response in the OpenAPI document and
decides which fields leave the service and under which names. `compile_dumper` reads that
once and builds a function that copies the same fields in the same order. A value that
is already of its field's JSON type (a str for String, an int for Integer, ...) is copied
as marshmallow would return it; any other value goes through the field's own `serialize`,
so the output equals `schema.dump` (tests/unit/test_dumpers.py compares both). A schema
this module cannot mirror exactly (dump hooks, defaults, custom fields) keeps
`schema.dump`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields
from marshmallow.utils import missing

# Fields whose dump returns a value of these exact types unchanged.
PASSTHROUGH = {
    fields.String: (str,),
    fields.Boolean: (bool,),
    fields.Integer: (int,),
    fields.Float: (float,),
    fields.Raw: None,  # anything
}

Dumper = Callable[[Any], Any]


def compile_dumper(schema: Schema | type[Schema]) -> Dumper:
    """A function equal to `schema.dump` for dict input (one object, not many)."""
    if isinstance(schema, type):
        schema = schema()
    if schema._hooks and any(schema._hooks[k] for k in schema._hooks if "dump" in str(k)):
        return schema.dump
    plan = []
    for name, field in schema.dump_fields.items():
        convert = _field_dumper(field)
        if convert is None or field.dump_default is not missing or "." in name:
            return schema.dump
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute or name
        plan.append((attribute, key, convert))
    plan = tuple(plan)

    def dump(data: dict) -> dict:
        out = {}
        for attribute, key, convert in plan:
            if attribute in data:
                out[key] = convert(data[attribute], attribute, data)
        return out

    return dump


def _field_dumper(field: fields.Field):
    """(value, attribute, object) -> dumped value for one field, or None if not mirrored."""
    kind = type(field)
    if kind in PASSTHROUGH:
        types = PASSTHROUGH[kind]
        if types is None:
            return lambda value, attr, obj: value
        serialize = field._serialize

        def scalar(value, attr, obj, types=types, serialize=serialize):
            if value is None or type(value) in types:
                return value
            return serialize(value, attr, obj)

        return scalar
    if kind is fields.Dict and field.key_field is None and field.value_field is None:
        serialize = field._serialize
        return lambda value, attr, obj: serialize(value, attr, obj)
    if kind is fields.Nested and not field.many and not field.only and not field.exclude:
        inner = compile_dumper(field.schema)
        return lambda value, attr, obj: None if value is None else inner(value)
    if kind is fields.List:
        item = field.inner
        if type(item) is fields.String:
            serialize = field._serialize

            def strings(value, attr, obj, serialize=serialize):
                if type(value) is list and all(type(v) is str for v in value):
                    return list(value)
                return serialize(value, attr, obj)

            return strings
        if type(item) is fields.Nested and not item.many and not item.only and not item.exclude:
            inner = compile_dumper(item.schema)
            return lambda value, attr, obj: (
                None if value is None else [None if v is None else inner(v) for v in value]
            )
    return None
