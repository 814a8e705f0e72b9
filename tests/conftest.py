"""Fixtures: the real OpenSearch and Redis that `make test` starts, under a per-run prefix."""

from __future__ import annotations

import os
import uuid

import pytest

# Each run gets its own index and Redis key prefix so runs never collide.
RUN_ID = uuid.uuid4().hex[:8]
os.environ.setdefault("INDEX_PREFIX", f"test-{RUN_ID}-")
os.environ.setdefault("REDIS_KEY_PREFIX", f"test:{RUN_ID}:")

from app import create_app  # noqa: E402  (reads the environment above)
from app.cli.tokens import mint  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.search.indices import drop_all, ensure_all  # noqa: E402

ALL_SCOPES = "contacts:read contacts:write dnc:read dnc:write"


@pytest.fixture(scope="session")
def app():
    app = create_app(TestConfig)
    client = app.extensions["opensearch"]
    ensure_all(client, app.config["INDEX_PREFIX"])
    yield app
    drop_all(client, app.config["INDEX_PREFIX"])
    redis_client = app.extensions["redis"]
    keys = list(redis_client.scan_iter(match=f"{app.config['REDIS_KEY_PREFIX']}*", count=1000))
    for start in range(0, len(keys), 500):
        redis_client.delete(*keys[start : start + 500])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def workspace() -> str:
    """A fresh workspace per test: tests never see each other's contacts."""
    return f"ws_{uuid.uuid4().hex[:12]}"


def bearer(workspaces, scope: str = ALL_SCOPES, **kwargs) -> dict:
    if isinstance(workspaces, str):
        workspaces = [workspaces]
    return {"Authorization": f"Bearer {mint(workspaces, scope, **kwargs)}"}


@pytest.fixture
def auth(workspace) -> dict:
    return bearer(workspace)
