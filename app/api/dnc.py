"""Do-Not-Call: the workspace's list, its history, and the checks dialers make."""

from __future__ import annotations

from flask import current_app, jsonify
from flask_smorest import Blueprint

from app import services
from app.api.uploads import allow_large_uploads, csv_upload
from app.auth import current_principal, require_scope
from app.idempotency import HEADER_DOC, idempotent
from app.schemas.common import WriteArgsSchema
from app.schemas.dnc import (
    DncAddSchema,
    DncCheckArgsSchema,
    DncCheckManySchema,
    DncCheckOneSchema,
    DncCheckRequestSchema,
    DncEntryEnvelopeSchema,
    DncHistoryArgsSchema,
    DncHistorySchema,
    DncImportArgsSchema,
    DncImportEnvelopeSchema,
    DncListArgsSchema,
    DncListSchema,
    DncRemoveArgsSchema,
)
from app.services.dnc_import import import_csv

blp = Blueprint("dnc", __name__, url_prefix="/v1/dnc", description="Do-Not-Call list.")
blp.before_request(allow_large_uploads)


@blp.route("", methods=["POST"])
@require_scope("dnc:write")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(DncAddSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(201, DncEntryEnvelopeSchema)
@blp.alt_response(200, schema=DncEntryEnvelopeSchema, description="Already listed; updated.")
def add_dnc(data, options):
    """List a number or a rule (idempotent: listing it again updates reason and expiry)."""
    principal = current_principal()
    principal.require_workspace(data["workspaceId"])
    entry, existed = services.dnc().add(
        data["workspaceId"],
        data["target"],
        reason=data["reason"],
        source=data["source"],
        actor=principal.subject,
        country=data["defaultCountry"],
        refresh=options["refresh"],
        kind=data["rule"],
        scope=data["scope"],
        channel=data["channel"],
        expires_at=data["expiresAt"],
    )
    return {"data": entry, "meta": {"existed": existed}}, 200 if existed else 201


@blp.route("", methods=["GET"])
@require_scope("dnc:read")
@blp.arguments(DncListArgsSchema, location="query")
@blp.response(200, DncListSchema)
def list_dnc(args):
    """A workspace's listed numbers, newest first; filter by reason, source and date."""
    current_principal().require_workspace(args["workspaceId"])
    return services.dnc().list_page(args)


@blp.route("/<string:phone>", methods=["DELETE"])
@require_scope("dnc:write")
@blp.arguments(DncRemoveArgsSchema, location="query")
@blp.response(204)
def remove_dnc(args, phone):
    """Remove a number's entry (any format), or a rule's with `rule`, `scope`, `channel`."""
    principal = current_principal()
    principal.require_workspace(args["workspaceId"])
    services.dnc().remove(
        args["workspaceId"],
        phone,
        reason=args["reason"],
        actor=principal.subject,
        country=args["defaultCountry"],
        refresh=args["refresh"],
        kind=args["rule"],
        scope=args["scope"],
        channel=args["channel"],
    )


# The check views return a built Response: the schema documents the shape, but a
# marshmallow dump of 10,000 rows would cost more than the check itself.
@blp.route("/check", methods=["GET"])
@require_scope("dnc:read")
@blp.arguments(DncCheckArgsSchema, location="query")
@blp.response(200, DncCheckOneSchema)
def check_dnc(args):
    """May this number be called (or texted: `channel`) in this campaign? `dnc: true`: no."""
    current_principal().require_workspace(args["workspaceId"])
    result = services.dnc().check(
        args["workspaceId"],
        [args["phone"]],
        args["defaultCountry"],
        args["campaign"],
        args["channel"],
    )
    return jsonify({"data": result["data"][0], "meta": result["meta"]})


@blp.route("/check", methods=["POST"])
@require_scope("dnc:read")
@blp.arguments(DncCheckRequestSchema)
@blp.response(200, DncCheckManySchema)
def check_dnc_many(data):
    """Check up to 10,000 numbers at once; invalid ones come back flagged, in order."""
    current_principal().require_workspace(data["workspaceId"])
    return jsonify(
        services.dnc().check(
            data["workspaceId"],
            data["phones"],
            data["defaultCountry"],
            data["campaign"],
            data["channel"],
        )
    )


@blp.route("/history", methods=["GET"])
@require_scope("dnc:read")
@blp.arguments(DncHistoryArgsSchema, location="query")
@blp.response(200, DncHistorySchema)
def dnc_history(args):
    """Every addition, update and removal, newest first; filter by phone or action."""
    current_principal().require_workspace(args["workspaceId"])
    return services.dnc().history_page(args)


@blp.route("/import", methods=["POST"])
@require_scope("dnc:write")
@blp.arguments(DncImportArgsSchema, location="query")
@blp.response(200, DncImportEnvelopeSchema)
@blp.doc(
    requestBody={
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        }
    }
)
def import_dnc(args):
    """List every number of a CSV file (a `file` upload or a text/csv body)."""
    principal = current_principal()
    principal.require_workspace(args["workspaceId"])
    stream, _ = csv_upload()
    max_rows = current_app.config["DNC_MAX_IMPORT_ROWS"]
    result = import_csv(services.dnc(), stream, args, actor=principal.subject, max_rows=max_rows)
    return {"data": result}
