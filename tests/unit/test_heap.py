"""Long-running processes exempt their start-up objects from the cyclic collector."""

import gc
import importlib.util
from pathlib import Path

from app import nanp
from app.heap import freeze_startup_objects


def _unfrozen():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0


def test_freeze_moves_startup_objects_out_of_collections():
    _unfrozen()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        # The NANP tree is built now, not by a first request in the background.
        assert nanp.valid_national("2125550123") is not None
        # Objects made afterwards are still tracked, so their cycles are still collected.
        cycle = []
        cycle.append(cycle)
        assert gc.is_tracked(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()


def test_each_gunicorn_worker_freezes_after_loading_the_app(monkeypatch, tmp_path):
    # The settings file would otherwise leave its metrics folder in this process's env.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    path = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
    spec = importlib.util.spec_from_file_location("gunicorn_settings", path)
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    _unfrozen()
    try:
        settings.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
