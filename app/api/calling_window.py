"""The callee's calling window: may a number be called now, when next, and the policy."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from app import services
from app.auth import current_principal, require_scope
from app.schemas.calling_window import (
    ContactEvaluationSchema,
    ContactWindowArgsSchema,
    EvaluateSchema,
    EvaluationSchema,
    PolicyEnvelopeSchema,
    PolicyPutSchema,
    WorkspaceArgsSchema,
)
from app.schemas.common import WriteArgsSchema

# Full paths: the contact's window sits under /v1/contacts/<id> without touching the
# contacts blueprint.
blp = Blueprint(
    "calling_window", __name__, description="Calling window: when a callee may be called."
)


@blp.route("/v1/calling-window", methods=["POST"])
@require_scope("contacts:read")
@blp.arguments(EvaluateSchema)
@blp.response(200, EvaluationSchema)
def evaluate_calling_window(args):
    """May these numbers (1-1,000) be called now (or `at`), and when next? In input order."""
    current_principal().require_workspace(args["workspaceId"])
    return services.calling_window().evaluate(
        args["workspaceId"],
        args["phones"],
        at=args["at"],
        default_country=args["defaultCountry"],
        campaign=args["campaign"],
    )


@blp.route("/v1/contacts/<string:contact_id>/calling-window", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(ContactWindowArgsSchema, location="query")
@blp.response(200, ContactEvaluationSchema)
def contact_calling_window(args, contact_id):
    """The calling window of each of a contact's numbers (404 outside the token's workspaces)."""
    workspaces = current_principal().workspaces
    return services.calling_window().for_contact(
        contact_id, workspaces, args["workspaceId"], at=args["at"], campaign=args["campaign"]
    )


@blp.route("/v1/calling-window/policy", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(WorkspaceArgsSchema, location="query")
@blp.response(200, PolicyEnvelopeSchema)
def get_calling_policy(args):
    """The workspace's calling policy (the TCPA default until one is saved)."""
    current_principal().require_workspace(args["workspaceId"])
    policy, etag = services.calling_window().policy(args["workspaceId"])
    return {"data": policy}, 200, {"ETag": etag} if etag else {}


@blp.route("/v1/calling-window/policy", methods=["PUT"])
@require_scope("contacts:write")
@blp.arguments(PolicyPutSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(200, PolicyEnvelopeSchema)
def put_calling_policy(data, options):
    """Replace the workspace's calling policy. Honours If-Match (412 on a stale version)."""
    principal, workspace_id = current_principal(), data.pop("workspaceId")
    principal.require_workspace(workspace_id)
    policy, etag = services.calling_window().put_policy(
        workspace_id,
        data,
        actor=principal.subject,
        if_match=request.headers.get("If-Match"),
        refresh=options["refresh"],
    )
    return {"data": policy}, 200, {"ETag": etag}
