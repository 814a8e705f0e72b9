"""Webhooks: subscribe a URL to the workspace's change feed; see deliveries."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import services
from app.auth import current_principal, require_scope
from app.schemas.webhooks import (
    WebhookCreatedEnvelopeSchema,
    WebhookCreateSchema,
    WebhookEnvelopeSchema,
    WebhookListArgsSchema,
    WebhookListSchema,
    WebhookUpdateSchema,
)

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhooks",
    description="Change events POSTed to your URL, signed (X-Contacts-Signature), in order.",
)


@blp.route("", methods=["POST"])
@require_scope("contacts:write")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookCreatedEnvelopeSchema)
@blp.alt_response(409, description="The workspace holds WEBHOOKS_PER_WORKSPACE already.")
def create_webhook(data):
    """Subscribe a URL to change events; the secret is shown only in this answer."""
    current_principal().require_workspace(data["workspaceId"])
    return {"data": services.webhooks().create(data["workspaceId"], data["url"])}, 201


@blp.route("", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(WebhookListArgsSchema, location="query")
@blp.response(200, WebhookListSchema)
def list_webhooks(args):
    """The workspace's subscriptions."""
    current_principal().require_workspace(args["workspaceId"])
    return {"data": services.webhooks().list(args["workspaceId"])}


@blp.route("/<string:webhook_id>", methods=["GET"])
@require_scope("contacts:read")
@blp.response(200, WebhookEnvelopeSchema)
@blp.alt_response(404, description="No such webhook in the token's workspaces.")
def get_webhook(webhook_id):
    """One subscription: last attempts with their status, next retry, paused."""
    return {"data": services.webhooks().get(webhook_id, current_principal().workspaces)}


@blp.route("/<string:webhook_id>", methods=["DELETE"])
@require_scope("contacts:write")
@blp.response(204)
@blp.alt_response(404, description="No such webhook in the token's workspaces.")
def delete_webhook(webhook_id):
    """Unsubscribe; no more deliveries."""
    services.webhooks().delete(webhook_id, current_principal().workspaces)


@blp.route("/<string:webhook_id>", methods=["PATCH"])
@require_scope("contacts:write")
@blp.arguments(WebhookUpdateSchema)
@blp.response(200, WebhookEnvelopeSchema)
@blp.alt_response(404, description="No such webhook in the token's workspaces.")
def update_webhook(data, webhook_id):
    """Pause or resume (`{"paused": false}` retries at once, from where delivery stopped)."""
    webhooks = services.webhooks()
    found = webhooks.set_paused(webhook_id, current_principal().workspaces, data["paused"])
    return {"data": found}
