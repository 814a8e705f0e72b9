"""Contacts API: create_app() binds config, the wiring (clients, services), blueprints and
error handlers."""

from __future__ import annotations

from flask import Flask, request
from flask_cors import CORS

from app import observability, ratelimit
from app.config import Config
from app.errors import ApiError, register_error_handlers
from app.jsonio import StrictJSONProvider
from app.wiring import Wiring

JSON_METHODS = ("POST", "PUT", "PATCH")


def create_app(config_class: type = Config) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config_class)
    app.json = StrictJSONProvider(app)

    # The composition root builds the clients and services (app/wiring.py).
    wiring = Wiring(app.config)
    app.extensions.update(wiring=wiring, opensearch=wiring.opensearch, redis=wiring.redis)
    # Request id, JSON logs and metrics first: every later hook and view is observed.
    observability.init_app(app)
    ratelimit.init_app(app)
    CORS(
        app,
        origins=app.config["CORS_ORIGINS"],
        expose_headers=[
            "ETag",
            "Location",
            "Retry-After",
            "X-Request-ID",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
    )

    from app.api import register_blueprints

    register_blueprints(app)
    # After flask-smorest's own handlers, so the one error shape wins everywhere.
    register_error_handlers(app)
    app.before_request(require_json_body)
    return app


def require_json_body() -> None:
    """Bodies of JSON endpoints must say they are JSON (multipart and CSV endpoints opt out)."""
    if request.method not in JSON_METHODS or request.endpoint is None:
        return
    view = request.endpoint.rsplit(".", 1)[-1]
    if view in ("import_contacts", "import_dnc"):
        return
    if request.content_length == 0 and not request.data:
        return
    if not request.is_json:
        raise UnsupportedMediaType()


class UnsupportedMediaType(ApiError):
    status, code, message = 415, "unsupported_media_type", "Send the body as application/json."
