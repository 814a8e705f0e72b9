"""Request JSON that the rest of the service can trust to be storable text."""

from __future__ import annotations

import json
import math

import flask
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from app.errors import ValidationError

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
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("The JSON contains text that is not valid Unicode.") from None
    except RecursionError:
        raise ValidationError("The JSON is nested too deeply.") from None
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing request bodies with `strict_loads`."""

    sort_keys = False

    def loads(self, s, **kwargs):
        return strict_loads(s)


class StrictFlaskParser(FlaskParser):
    """webargs' parser, reading JSON bodies through the app's StrictJSONProvider."""

    def _raw_load_json(self, req: flask.Request):
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # webargs answers this as invalid JSON
            raise json.JSONDecodeError(f"Bytes decoding error: {exc.reason}", "", 0) from exc
        return flask.current_app.json.loads(text)
