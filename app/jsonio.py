"""Request JSON that the rest of the service can trust to be storable text, and fast JSON
out: response bodies and the engine's request and response bodies go through orjson.

Parsing requests stays on the standard library's strict path (`strict_loads`): its
refusals (huge numbers, NaN, deep nesting, lone surrogates) are the API's contract.
Writing is where the time went (the profile in docs/performance.md): orjson writes the
same JSON several times faster, and anything it cannot write falls back to the stdlib
encoder with the same defaults, so no value that used to serialize now fails.
"""

from __future__ import annotations

import functools
import json
import math

import flask
import marshmallow as ma
import orjson
from flask.json.provider import DefaultJSONProvider
from opensearchpy.serializer import JSONSerializer
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from app.errors import ValidationError

# datetimes and dataclasses go to the caller's `default`, as with the stdlib encoder (whose
# formats differ from orjson's own); dict keys that are not strings are written as text.
# OPT_NON_STR_KEYS doubles orjson's time on every dict, and nearly every body has string
# keys only: they are written without it first (same bytes), the rest with it.
STR_KEYS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
ORJSON_OPTIONS = STR_KEYS_OPTIONS | orjson.OPT_NON_STR_KEYS

# No field of this API holds a number near this long; Python itself refuses to turn a
# string of more than 4,300 digits into an int (a ValueError deep in the parser).
MAX_NUMBER_CHARS = 100


def _number(text: str, convert):
    if len(text) > MAX_NUMBER_CHARS:
        raise ValidationError(f"A number in the JSON has more than {MAX_NUMBER_CHARS} digits.")
    return convert(text)


def _finite_float(text: str) -> float:
    value = _number(text, float)
    if not math.isfinite(value):  # 1e999 parses to infinity: no store can keep it
        raise ValidationError("A number in the JSON is out of range.")
    return value


def _no_constant(name: str):
    raise ValidationError(f"{name} is not a JSON number.")


def strict_loads(text: str | bytes):
    """JSON text -> value, refusing what would only fail later, deep inside a store.

    Lone UTF-16 surrogates ("\\ud800") are valid JSON escapes but not Unicode text:
    OpenSearch and Redis reject them. Nesting beyond Python's recursion limit would
    crash the parser; numbers of thousands of digits, NaN and Infinity would fail in
    int(), in a comparison or in the engine. All become a 400 here instead of a 500.
    """
    try:
        value = json.loads(
            text,
            parse_int=lambda t: _number(t, int),
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except RecursionError:
        raise ValidationError("The JSON is nested too deeply.") from None
    try:
        # orjson refuses lone surrogates (and ints past 64 bits, nesting past 254), about
        # 15x faster than the stdlib writer: what it writes holds no lone surrogate.
        orjson.dumps(value)
        return value
    except orjson.JSONEncodeError:
        pass  # the stdlib decides, as it always did
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("The JSON contains text that is not valid Unicode.") from None
    except RecursionError:
        raise ValidationError("The JSON is nested too deeply.") from None
    return value


def fast_dumps(value, default) -> bytes | None:
    """orjson's bytes, or None when orjson cannot write the value (an integer beyond 64
    bits, a lone surrogate in a string, a type `default` does not know): the caller then
    uses the stdlib encoder, which decides as it always did."""
    try:
        return orjson.dumps(value, default=default, option=STR_KEYS_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        pass
    try:
        return orjson.dumps(value, default=default, option=ORJSON_OPTIONS)
    except TypeError:
        return None


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing request bodies with `strict_loads` and writing compact
    response bodies with orjson (UTF-8 rather than \\u escapes; the same JSON values)."""

    sort_keys = False

    def loads(self, s, **kwargs):
        return strict_loads(s)

    def response(self, *args, **kwargs) -> flask.Response:
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)  # indented for people, stdlib
        body = fast_dumps(self._prepare_response_obj(args, kwargs), self.default)
        if body is None:
            return super().response(*args, **kwargs)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


class EngineSerializer(JSONSerializer):
    """opensearch-py's JSON serializer on orjson: every query, document and bulk line
    the service sends, and every engine response it reads."""

    def dumps(self, data) -> str:
        if isinstance(data, str | bytes):
            return data
        body = fast_dumps(data, self.default)
        return body.decode() if body is not None else super().dumps(data)

    def loads(self, s):
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            # What orjson refuses (NaN, numbers beyond 64 bits) the stdlib may read.
            return super().loads(s)


class StrictFlaskParser(FlaskParser):
    """webargs' parser, reading JSON bodies through the app's StrictJSONProvider.

    A view names its schema by class (`@blp.arguments(SearchRequestSchema)`), and webargs
    would build a new instance per request, deep-copying every declared field (~0.3 ms
    of a search's CPU). One instance per class serves every request instead: marshmallow
    4 schemas keep no per-load state (no `context`), and the schemas' hooks only read.
    """

    def _get_schema(self, argmap, req: flask.Request) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _shared_schema(argmap)
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req: flask.Request):
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # webargs answers this as invalid JSON
            raise json.JSONDecodeError(f"Bytes decoding error: {exc.reason}", "", 0) from exc
        return flask.current_app.json.loads(text)


@functools.cache
def _shared_schema(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()
