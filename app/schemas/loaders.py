"""Precompiled request loaders: what `Schema().load(item)` returns, without marshmallow's
per-field machinery, for the item-by-item hot paths (batch create/update/upsert items,
import rows): a 1,000-item batch spent more time in `Schema.load` than the engine took
to index the items.

marshmallow stays the reference and the contract: the schema documents the item in the
OpenAPI document, and its field declarations are the rules. `compile_loader` reads them
once (field types, required, allow_none, load defaults, each field's own validators,
nested schemas, `unknown = RAISE`) and builds a function that takes only the plainly
valid item: every value of exactly its JSON type (`str` for String, `bool` for Boolean,
`list` / `dict`), every validator of the field passing, no unknown key. Such an item gets
the dict `schema.load` would return. Any other item, valid in a form the fast path does
not take (`"true"` for a boolean) or invalid, goes to `schema.load` itself, which
returns its result or raises its ValidationError: errors are marshmallow's own, word for
word, and cost what they cost before. tests/unit/test_loaders.py feeds both the same
generated items (valid, each kind of invalid, hostile) and asserts identical results.

A schema this module cannot mirror exactly (load hooks other than `validates_schema`,
a field type it does not know, `unknown` other than RAISE) keeps `schema.load`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields
from marshmallow.utils import missing

Loader = Callable[[Any], dict]
Check = Callable[[Any], Any]


class _Defer(Exception):
    """The fast path cannot vouch for this value: the schema decides."""


def compile_loader(schema: Schema | type[Schema]) -> Loader:
    """A function equal to `schema.load` (one object, not many) for any input."""
    if isinstance(schema, type):
        schema = schema()
    fast = _compile_schema(schema)
    if fast is None:
        return schema.load

    def load(item: Any) -> dict:
        try:
            return fast(item)
        except _Defer:
            return schema.load(item)

    return load


def _compile_schema(schema: Schema) -> Check | None:
    """The fast check of a whole schema, or None when it cannot be mirrored."""
    hooks = {tag for tag, registered in schema._hooks.items() if registered}
    if hooks - {"validates_schema"} or schema.unknown != RAISE:
        return None
    # Schema-wide rules (e.g. "tags cannot be null") run on the loaded result, as in load;
    # one that wants the raw input or many items at once is not mirrored.
    validators = schema._hooks["validates_schema"]
    if any(many or options.get("pass_original") for _, many, options in validators):
        return None
    schema_checks = tuple(getattr(schema, name) for name, *_ in validators)
    plan = []
    for name, field in schema.load_fields.items():
        check = _field_check(field)
        if check is None or field.attribute not in (None, name):
            return None
        key = field.data_key if field.data_key is not None else name
        plan.append((key, name, check, field.required, field.load_default, field.allow_none))
    plan = tuple(plan)
    known = frozenset(key for key, *_ in plan)

    def check_schema(item: Any) -> dict:
        if type(item) is not dict or not known.issuperset(item):
            raise _Defer
        result = {}
        for key, name, check, required, default, allow_none in plan:
            if key in item:
                value = item[key]
                if value is None:
                    if not allow_none:
                        raise _Defer
                    result[name] = None
                else:
                    result[name] = check(value)
            elif required:
                raise _Defer
            elif default is not missing:
                result[name] = default() if callable(default) else default
        for validate in schema_checks:
            try:
                validate(result, partial=None, many=False)
            except ValidationError:
                raise _Defer from None
        return result

    return check_schema


def _validated(validators: tuple, convert: Check) -> Check:
    """`convert` then every validator of the field, as Field.deserialize runs them."""
    if not validators:
        return convert

    def check(value: Any) -> Any:
        output = convert(value)
        try:
            for validate in validators:
                if validate(output) is False:
                    raise _Defer
        except ValidationError:
            raise _Defer from None
        return output

    return check


def _exact(kind: type) -> Check:
    def convert(value: Any) -> Any:
        if type(value) is not kind:
            raise _Defer
        return value

    return convert


def _field_check(field: fields.Field) -> Check | None:
    validators = tuple(field.validators)
    if type(field) in (fields.String, fields.Email):
        return _validated(validators, _exact(str))
    if type(field) is fields.Boolean:
        return _validated(validators, _exact(bool))
    if isinstance(field, fields.Nested):
        if field.many or not isinstance(field.schema, Schema) or field.schema.only:
            return None
        inner = _compile_schema(field.schema)
        return None if inner is None else _validated(validators, _exact_dict(inner))
    if isinstance(field, fields.List) and not isinstance(field, fields.Tuple):
        return _list_check(field, validators)
    if isinstance(field, fields.Dict):
        return _own_deserialize(field)
    return None


def _exact_dict(inner: Check) -> Check:
    def convert(value: Any) -> Any:
        if type(value) is not dict:
            raise _Defer
        return inner(value)

    return convert


def _list_check(field: fields.List, validators: tuple) -> Check | None:
    inner = _field_check(field.inner)
    if inner is None:
        return None
    own = type(field)._deserialize is not fields.List._deserialize
    # A subclass (BoundedList) may refuse the list before its items: run its own bound.
    bound = getattr(field, "maximum", None) if own else None
    if own and bound is None:
        return None
    inner_allows_none = field.inner.allow_none

    def convert(value: Any) -> list:
        if type(value) is not list or (bound is not None and len(value) > bound):
            raise _Defer
        out = []
        for element in value:
            if element is None:
                if not inner_allows_none:
                    raise _Defer
                out.append(None)
            else:
                out.append(inner(element))
        return out

    return _validated(validators, convert)


def _own_deserialize(field: fields.Field) -> Check:
    """A field the fast path does not mirror value by value (custom dict rules): its own
    `deserialize`, which runs its type checks and validators exactly."""

    def check(value: Any) -> Any:
        if type(value) is not dict:
            raise _Defer
        try:
            return field.deserialize(value)
        except ValidationError:
            raise _Defer from None

    return check
