"""The worker's clients come from the same wiring as the API's: an import running on the
worker while a reindex freezes writes waits the freeze out instead of failing rows."""

from __future__ import annotations

import io
import threading
import time

from app import create_app
from app.config import TestConfig
from app.jobs import config_dict
from app.search.indices import IndexNames
from app.search.write_freeze import set_write_block
from app.wiring import Wiring

ROWS = 40


def test_a_worker_import_during_a_reindex_write_freeze_loses_no_rows(app, workspace):
    worker = Wiring(config_dict(TestConfig), background=True)  # as app/worker.py builds it
    engine = app.extensions["opensearch"]
    index = next(
        iter(engine.indices.get_alias(name=IndexNames(TestConfig.INDEX_PREFIX, "contacts").write))
    )
    body = "First Name,Phone\n" + "".join(f"Frozen{n},+1415555{n:04d}\n" for n in range(ROWS))
    set_write_block(engine, index, True)  # the reindex's brief write freeze
    thaw = threading.Timer(1.5, set_write_block, args=(engine, index, False))
    thaw.start()
    try:
        started = time.monotonic()
        record = worker.imports.create(
            io.BytesIO(body.encode()),
            {"workspaceId": workspace, "onDuplicate": "create"},
            "frozen.csv",
            inline=True,
        )
        waited = time.monotonic() - started
    finally:
        thaw.join()
        set_write_block(engine, index, False)
    assert record["status"] == "completed", record
    assert record["counts"]["created"] == ROWS and record["counts"]["invalid"] == 0, record
    assert waited >= 1.0  # it really met the freeze and waited it out
    api = create_app(TestConfig)
    engine.indices.refresh(index=index)
    with api.app_context():
        listed = api.extensions["wiring"].contacts.list(workspace, limit=100)[1]
    assert listed == ROWS
