"""Service objects, built once per app from its clients and settings.

Handlers ask for a service here; they never touch a client themselves.
"""

from __future__ import annotations

from flask import current_app

from app.search.pits import PitBudget
from app.services.contacts import ContactService
from app.services.dnc import DncService
from app.services.dnc_reconcile import DncReconciler
from app.services.export import ExportService
from app.services.imports import ImportService
from app.services.search import SearchService


def _cached(name: str, build):
    services = current_app.extensions.setdefault("services", {})
    if name not in services:
        services[name] = build(current_app)
    return services[name]


def contacts() -> ContactService:
    return _cached(
        "contacts",
        lambda app: ContactService(
            app.extensions["opensearch"],
            app.config["INDEX_PREFIX"],
            app.config["DEFAULT_COUNTRY"],
            # Every page of contacts gets `dnc` from one batched cache call.
            annotate=dnc().flag_contacts,
            cursor_key=app.config["CURSOR_SECRET"],
        ),
    )


def dnc() -> DncService:
    return _cached(
        "dnc",
        lambda app: DncService(
            app.extensions["opensearch"],
            app.extensions["redis"],
            app.config["INDEX_PREFIX"],
            app.config["REDIS_KEY_PREFIX"],
            app.config["DEFAULT_COUNTRY"],
            bucket_target=app.config["DNC_CACHE_BUCKET_TARGET"],
            lazy_build=app.config["DNC_CACHE_LAZY_BUILD"],
        ),
    )


def dnc_reconciler() -> DncReconciler:
    return _cached("dnc_reconciler", lambda app: DncReconciler(dnc()))


def search() -> SearchService:
    return _cached(
        "search",
        lambda app: SearchService(
            app.extensions["opensearch"],
            app.config["INDEX_PREFIX"],
            contacts(),
            cursor_key=app.config["CURSOR_SECRET"],
            pits=PitBudget(
                app.extensions["redis"],
                app.config["REDIS_KEY_PREFIX"],
                limit=app.config["PIT_MAX_PER_WORKSPACE"],
                keep_alive=app.config["SEARCH_PIT_KEEP_ALIVE"],
            ),
            pit_keep_alive=app.config["SEARCH_PIT_KEEP_ALIVE"],
        ),
    )


def imports() -> ImportService:
    # The submodule is imported at the top, so this function keeps the name `imports`.
    from app.jobs import import_queue, job_hooks

    def build(app):
        config = app.config
        enqueue, is_waiting = job_hooks(import_queue(app.extensions["redis"], config), config)
        return ImportService(
            app.extensions["opensearch"],
            app.extensions["redis"],
            contacts(),
            config,
            enqueue,
            is_waiting,
        )

    return _cached("imports", build)


def export() -> ExportService:
    return _cached(
        "export",
        lambda app: ExportService(search(), page_size=app.config["EXPORT_PAGE_SIZE"]),
    )
