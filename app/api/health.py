"""Liveness and readiness probes."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import services
from app.schemas.health import HealthSchema, ReadinessSchema
from app.services import health as health_service

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz():
    """The process is up."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, schema=ReadinessSchema, description="Not ready")
def readyz():
    """OpenSearch answers and the aliases exist (503 otherwise); Redis down is `degraded`."""
    checks = services.readiness()
    status = health_service.status_of(checks)
    return {"status": status, "checks": checks}, 503 if status == "unavailable" else 200
