"""JSON responses of the hot paths, dumped by precompiled functions (app/schemas/dumpers.py).

A view keeps `@blp.response(status, Schema)`, which documents the response in the OpenAPI
document; it returns `dumped(DUMPER, result)`, a built Response that flask-smorest passes
through (its status and headers still come from the view's tuple), instead of the raw
result that flask-smorest would dump with marshmallow value by value.
"""

from __future__ import annotations

from flask import Response, current_app

from app.schemas.dumpers import Dumper


def dumped(dumper: Dumper, result) -> Response:
    return current_app.json.response(dumper(result))
