"""Phone normalization endpoint."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from app.auth import require_scope
from app.phones import normalize
from app.schemas.phones import NormalizeRequestSchema, NormalizeResponseSchema

blp = Blueprint("phones", __name__, url_prefix="/v1/contacts", description="Phone numbers.")


@blp.route("/normalize", methods=["POST"])
@require_scope("contacts:read")
@blp.arguments(NormalizeRequestSchema)
@blp.response(200, NormalizeResponseSchema)
def normalize_phone(args):
    """Normalize a phone (or a batch of `phones`) to E.164 with what is known about it."""
    country = args["defaultCountry"] or current_app.config["DEFAULT_COUNTRY"]
    if "phones" in args:
        return {"data": [normalize(p, country).as_dict() for p in args["phones"]]}
    return {"data": normalize(args["phone"], country).as_dict()}
