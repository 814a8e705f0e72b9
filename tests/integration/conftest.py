"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest

from app.services.changes import ChangeLog


@pytest.fixture
def quick_settle(app):
    """The app's change log with a short settle time, on the same servers and prefixes."""
    wiring = app.extensions["wiring"]
    return ChangeLog(
        wiring.opensearch,
        wiring.redis,
        app.config["INDEX_PREFIX"],
        app.config["REDIS_KEY_PREFIX"],
        cursor_key=app.config["CURSOR_SECRET"],
        settle_seconds=0.3,
    )
