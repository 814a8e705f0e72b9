"""CSV uploads, the one handler for both imports (contacts and DNC): a multipart `file`
field or a raw CSV body, the import size limit instead of the JSON body limit, and 415
for anything else."""

from __future__ import annotations

from typing import BinaryIO

from flask import current_app, request

from app.errors import ApiError, ValidationError
from app.idempotency import request_body

CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream")
# Views that take a CSV upload: they get MAX_IMPORT_BYTES, not MAX_BODY_BYTES.
UPLOAD_ENDPOINTS = ("imports.import_contacts", "dnc.import_dnc")


class UnsupportedUpload(ApiError):
    status, code = 415, "unsupported_media_type"
    message = "Send the CSV as multipart/form-data (field `file`) or as a text/csv body."


def allow_large_uploads() -> None:
    """before_request of the upload blueprints: Flask 3.1 takes a per-request limit, set
    before anything (the idempotency hash included) reads the body."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = current_app.config["MAX_IMPORT_BYTES"]


def csv_upload() -> tuple[BinaryIO, str | None]:
    """(byte stream, file name) from a multipart `file` field or a raw CSV body."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationError(details=[{"field": "file", "message": "Attach the CSV file."}])
        return upload.stream, upload.filename
    if request.mimetype in CSV_TYPES:
        return request_body(), None  # streamed; hashed on the way under an Idempotency-Key
    raise UnsupportedUpload()
