"""Consent: a phone's consent per channel, its history, and the workspace's setting."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import services
from app.auth import current_principal, require_scope
from app.schemas.consent import (
    ConsentArgsSchema,
    ConsentEnvelopeSchema,
    ConsentHistoryArgsSchema,
    ConsentHistorySchema,
    ConsentListSchema,
    ConsentSettingsArgsSchema,
    ConsentSettingsEnvelopeSchema,
    ConsentSettingsSchema,
    ConsentWriteSchema,
)

blp = Blueprint(
    "consents", __name__, url_prefix="/v1/consents", description="Consent records per phone."
)


@blp.route("", methods=["POST"])
@require_scope("dnc:write")
@blp.arguments(ConsentWriteSchema)
@blp.response(201, ConsentEnvelopeSchema)
def record_consent(data):
    """Record consent obtained or revoked; a revocation may add a DNC entry."""
    principal = current_principal()
    principal.require_workspace(data["workspaceId"])
    change, current = services.consents().record(data, actor=principal.subject)
    return {"data": change, "meta": {"current": current}}


@blp.route("", methods=["GET"])
@require_scope("dnc:read")
@blp.arguments(ConsentArgsSchema, location="query")
@blp.response(200, ConsentListSchema)
def current_consent(args):
    """A number's current consent per channel."""
    current_principal().require_workspace(args["workspaceId"])
    return services.consents().current(args["workspaceId"], args["phone"], args["defaultCountry"])


@blp.route("/history", methods=["GET"])
@require_scope("dnc:read")
@blp.arguments(ConsentHistoryArgsSchema, location="query")
@blp.response(200, ConsentHistorySchema)
def consent_history(args):
    """Every consent change recorded for a number, newest first."""
    current_principal().require_workspace(args["workspaceId"])
    return services.consents().history_page(args)


@blp.route("/settings", methods=["GET"])
@require_scope("dnc:read")
@blp.arguments(ConsentSettingsArgsSchema, location="query")
@blp.response(200, ConsentSettingsEnvelopeSchema)
def consent_settings(args):
    """Whether a revocation adds a DNC entry by default in this workspace."""
    current_principal().require_workspace(args["workspaceId"])
    return {"data": services.consents().settings(args["workspaceId"])}


@blp.route("/settings", methods=["PUT"])
@require_scope("dnc:write")
@blp.arguments(ConsentSettingsArgsSchema, location="query")
@blp.arguments(ConsentSettingsSchema)
@blp.response(200, ConsentSettingsEnvelopeSchema)
def save_consent_settings(args, data):
    """Save the workspace's consent setting."""
    principal = current_principal()
    principal.require_workspace(args["workspaceId"])
    saved = services.consents().save_settings(args["workspaceId"], data, principal.subject)
    return {"data": saved}
