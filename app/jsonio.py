"""Request JSON that the rest of the service can trust to be storable text."""

from __future__ import annotations

import json

import flask
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from app.errors import ValidationError


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing bodies that would only fail later, deep inside a store.

    Lone UTF-16 surrogates ("\\ud800") are valid JSON escapes but not Unicode text:
    OpenSearch and Redis reject them. Nesting beyond Python's recursion limit would
    crash the parser. Both become a 400 here instead of a 500 later.
    """

    sort_keys = False

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValidationError("The JSON body is nested too deeply.") from None
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(
                "The JSON body contains text that is not valid Unicode."
            ) from None
        except RecursionError:
            raise ValidationError("The JSON body is nested too deeply.") from None
        return value


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
