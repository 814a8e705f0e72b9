"""The services of the current app, as its wiring built them (app/wiring.py).

Handlers ask for a service here; they never touch a client themselves.
"""

from __future__ import annotations

from flask import current_app

from app.services import health
from app.services.batch import BatchService
from app.services.calling_window import CallingWindowService
from app.services.changes import ChangeLog
from app.services.consent import ConsentService
from app.services.contacts import ContactService
from app.services.dnc import DncService
from app.services.dnc_reconcile import DncReconciler
from app.services.duplicates import DuplicateService
from app.services.export import ExportService
from app.services.imports import ImportService
from app.services.merges import MergeService
from app.services.search import SearchService
from app.services.webhooks import WebhookService


def _wiring():
    return current_app.extensions["wiring"]


def contacts() -> ContactService:
    return _wiring().contacts


def batch() -> BatchService:
    return _wiring().batch


def merges() -> MergeService:
    return _wiring().merges


def duplicates() -> DuplicateService:
    return _wiring().duplicates


def consents() -> ConsentService:
    return _wiring().consents


def dnc() -> DncService:
    return _wiring().dnc


def dnc_reconciler() -> DncReconciler:
    return _wiring().dnc_reconciler


def search() -> SearchService:
    return _wiring().search


def imports() -> ImportService:
    return _wiring().imports


def export() -> ExportService:
    return _wiring().export


def calling_window() -> CallingWindowService:
    return _wiring().calling_window


def changes() -> ChangeLog:
    return _wiring().changes


def webhooks() -> WebhookService:
    return _wiring().webhooks


def readiness() -> dict:
    """The readiness probes, run on this process's clients."""
    wiring = _wiring()
    return health.readiness(wiring.opensearch, wiring.redis, wiring.config["INDEX_PREFIX"])
