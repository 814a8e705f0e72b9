"""Contacts: create, read, update, delete and list."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from app import services
from app.api.responses import dumped
from app.auth import current_principal, require_scope
from app.idempotency import HEADER_DOC, idempotent
from app.schemas.common import ErrorSchema, WriteArgsSchema
from app.schemas.contacts import (
    ContactCreateSchema,
    ContactEnvelopeSchema,
    ContactListArgsSchema,
    ContactListSchema,
    ContactUpdateSchema,
)
from app.schemas.dumpers import compile_dumper

CONTACT = compile_dumper(ContactEnvelopeSchema)
CONTACT_PAGE = compile_dumper(ContactListSchema)

blp = Blueprint("contacts", __name__, url_prefix="/v1/contacts", description="Contacts.")


@blp.route("", methods=["GET"])
@require_scope("contacts:read")
@blp.arguments(ContactListArgsSchema, location="query")
@blp.response(200, ContactListSchema)
def list_contacts(args):
    """List a workspace's contacts, newest first."""
    current_principal().require_workspace(args["workspaceId"])
    return dumped(CONTACT_PAGE, services.contacts().list_page(args))


@blp.route("", methods=["POST"])
@require_scope("contacts:write")
@idempotent
@blp.doc(parameters=[HEADER_DOC])
@blp.arguments(ContactCreateSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(201, ContactEnvelopeSchema)
def create_contact(data, options):
    """Create a contact; its phone is stored as E.164."""
    current_principal().require_workspace(data["workspaceId"])
    created = services.contacts().create(data, refresh=options["refresh"])
    return dumped(CONTACT, {"data": created.contact}), 201, {"ETag": created.etag}


@blp.route("/<string:contact_id>", methods=["GET"])
@require_scope("contacts:read")
@blp.response(200, ContactEnvelopeSchema)
@blp.alt_response(
    301,
    schema=ErrorSchema,
    headers={"Location": {"description": "/v1/contacts/<survivor>", "schema": {"type": "string"}}},
    description="The contact was merged into another one: `Location` is the survivor, and "
    'the body `{"error":{"code":"merged","details":[{"field":"id","message":"<survivor id>"}]}}`.',
)
def get_contact(contact_id):
    """One contact; real-time, right after a write."""
    found = services.merges().get_contact(contact_id, current_principal().workspaces)
    return dumped(CONTACT, {"data": found.contact}), 200, {"ETag": found.etag}


@blp.route("/<string:contact_id>", methods=["PATCH"])
@require_scope("contacts:write")
@blp.arguments(ContactUpdateSchema)
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(200, ContactEnvelopeSchema)
def update_contact(changes, options, contact_id):
    """Change some fields; `null` clears an optional field. Honours If-Match."""
    updated = services.contacts().update(
        contact_id,
        current_principal().workspaces,
        changes,
        if_match=request.headers.get("If-Match"),
        refresh=options["refresh"],
    )
    return dumped(CONTACT, {"data": updated.contact}), 200, {"ETag": updated.etag}


@blp.route("/<string:contact_id>", methods=["DELETE"])
@require_scope("contacts:write")
@blp.arguments(WriteArgsSchema, location="query")
@blp.response(204)
def delete_contact(options, contact_id):
    """Delete a contact. Honours If-Match."""
    services.contacts().delete(
        contact_id,
        current_principal().workspaces,
        if_match=request.headers.get("If-Match"),
        refresh=options["refresh"],
    )
