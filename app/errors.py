"""Domain errors and the one JSON error shape every failure is returned in.

{"error": {"code": "validation_error", "message": "...", "details": [{"field", "message"}]}}
"""

from __future__ import annotations

import logging

import opensearchpy
import redis
from flask import Flask, jsonify
from marshmallow import ValidationError as SchemaValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 500
    code = "internal_error"
    message = "Internal server error."

    def __init__(
        self,
        message: str | None = None,
        details: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or []
        self.headers = headers or {}


class ValidationError(ApiError):
    status, code, message = 400, "validation_error", "The request is not valid."

    @classmethod
    def from_messages(cls, messages: dict, message: str | None = None) -> ValidationError:
        return cls(message, details=flatten_messages(messages))


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "A valid bearer token is required."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "The token does not grant this."


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class PreconditionFailed(ApiError):
    status, code, message = 412, "precondition_failed", "The resource has changed."


class CursorExpired(ApiError):
    status, code = 410, "cursor_expired"
    message = "The cursor points before the oldest retained change; resync, then follow again."


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class Unprocessable(ApiError):
    status, code, message = 422, "unprocessable", "The request cannot be processed."


class NotCsv(Unprocessable):
    code, message = "invalid_csv", "The file is not a CSV file we can read."


class CsvLimitExceeded(Unprocessable):
    code = "csv_limit_exceeded"


def csv_error(message: str, code: str) -> Unprocessable:
    """The one mapping of a CSV problem (reader's CsvFormatError code) to its 422."""
    cls = {"csv_limit_exceeded": CsvLimitExceeded, "invalid_csv": NotCsv}.get(code, Unprocessable)
    return cls(message, details=[{"field": "file", "message": message}])


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "Too many requests."


class ServiceUnavailable(ApiError):
    status, code, message = 503, "service_unavailable", "A backing service is unavailable."


WEBARGS_LOCATIONS = ("json", "query", "form", "files", "headers", "view_args", "json_or_form")


def flatten_messages(messages, prefix: str = "", top: bool = True) -> list[dict]:
    """Turn marshmallow's nested error dict into a flat list of {field, message}."""
    details: list[dict] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            # webargs nests by location ("json", "query"); the location is not a field.
            if top and key in WEBARGS_LOCATIONS and isinstance(value, dict):
                details += flatten_messages(value, "", top=False)
                continue
            whole = key == "_schema" or (top and key in WEBARGS_LOCATIONS)
            field = "body" if whole else f"{prefix}{key}"
            if isinstance(value, dict):
                details += flatten_messages(value, f"{field}.", top=False)
            else:
                details += [{"field": field, "message": str(m)} for m in _as_list(value)]
    else:
        details += [
            {"field": prefix.rstrip(".") or "body", "message": str(m)} for m in _as_list(messages)
        ]
    return details


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def error_response(status: int, code: str, message: str, details=None, headers=None):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Werkzeug's HTTP errors (routing, method, size) in our shape.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
}


def register_error_handlers(app: Flask) -> None:
    retry_after = str(app.config["RETRY_AFTER_SECONDS"])

    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        headers = dict(exc.headers)
        if exc.status == 503:
            headers.setdefault("Retry-After", retry_after)
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.errorhandler(SchemaValidationError)
    def handle_schema_error(exc: SchemaValidationError):
        return handle_api_error(ValidationError.from_messages(exc.messages))

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        if "messages" in data:  # webargs: the body or query did not match the schema
            return handle_api_error(ValidationError.from_messages(data["messages"]))
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 400 and "JSON" in str(message):
            return error_response(400, "invalid_json", "The request body is not valid JSON.")
        # Keep what the exception says about itself, e.g. `Allow` on a 405.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(
            status, HTTP_CODES.get(status, "http_error"), message, headers=headers
        )

    @app.errorhandler(opensearchpy.ConnectionError)
    @app.errorhandler(opensearchpy.ConnectionTimeout)
    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def handle_backend_down(exc: Exception):
        log.warning("backing service unavailable: %s", exc.__class__.__name__)
        return handle_api_error(ServiceUnavailable())

    @app.errorhandler(opensearchpy.TransportError)
    def handle_transport_error(exc: opensearchpy.TransportError):
        # Server-side 5xx from OpenSearch (shards unavailable, cluster blocked) is an outage.
        if not isinstance(exc.status_code, int) or exc.status_code >= 500:
            log.warning("OpenSearch error %s: %s", exc.status_code, exc.error)
            return handle_api_error(ServiceUnavailable())
        if exc.status_code == 429:
            return handle_api_error(ServiceUnavailable("OpenSearch is overloaded."))
        if exc.status_code == 404 and exc.error == "index_not_found_exception":
            # The indices or aliases are missing: a deployment fault (readyz says so too),
            # never the client's "not found".
            log.error("index missing (run `contacts init-indices`): %s", exc.info)
            return handle_api_error(ServiceUnavailable("The service's indices are not ready."))
        if exc.status_code == 400 and exc.error == "strict_dynamic_mapping_exception":
            # The live index predates a field the code writes: a deployment fault, not bad
            # input. The operator's fix is `make reindex` onto the current mapping.
            log.error("index mapping is behind the code (run make reindex): %s", exc.info)
            return error_response(500, "internal_error", "Internal server error.")
        if exc.status_code == 400:
            # The engine refused what the request carried (e.g. text it cannot parse):
            # bad input that slipped past validation is still the client's 400, not a 500.
            log.warning("OpenSearch refused a request: %s", exc.error)
            return handle_api_error(ValidationError("The request cannot be stored or searched."))
        log.error("unexpected OpenSearch %s: %s", exc.status_code, exc.info)
        return error_response(500, "internal_error", "Internal server error.")

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Internal server error.")
