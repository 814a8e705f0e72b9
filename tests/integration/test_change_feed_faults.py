"""What a write answers when its change cannot be recorded, on the real servers.

- Redis unreachable before the write: 503 and nothing written (the announcement comes
  first).
- OpenSearch refusing the change document after the contact was written: 503 (never an
  acknowledgement without its change), and the change still reaches the feed once a
  reader settles the announcement from the record.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from opensearchpy import OpenSearch

from app.config import Config
from app.errors import NotFound, ServiceUnavailable
from app.search.indices import IndexNames, drop_all, ensure_all
from app.services.changes import ChangeLog
from app.services.contacts import ContactService


@pytest.fixture
def env(app):
    client = app.extensions["opensearch"]
    prefix = f"{app.config['INDEX_PREFIX']}ff{uuid.uuid4().hex[:6]}-"
    ensure_all(client, prefix)
    yield client, app.extensions["redis"], prefix, f"{app.config['REDIS_KEY_PREFIX']}ff:"
    drop_all(client, prefix)


def test_with_redis_unreachable_a_write_is_503_and_writes_nothing(env):
    client, _, prefix, redis_prefix = env
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    service = ContactService(
        client, prefix, changes=ChangeLog(client, gone, prefix, redis_prefix, cursor_key="k")
    )
    contact = service.prepare_new({"workspaceId": "ws_nofeed", "firstName": "Nobody"})

    with pytest.raises(ServiceUnavailable):
        service.create({"workspaceId": "ws_nofeed", "firstName": "Nobody"})

    client.indices.refresh(index=service.names.write)
    assert client.count(index=service.names.read)["count"] == 0
    with pytest.raises(NotFound):
        service.get(contact["id"], ["ws_nofeed"])


def test_a_change_the_engine_refuses_is_a_503_and_still_reaches_the_feed(env):
    _, cache, prefix, redis_prefix = env
    # A plain client: the app's retries writes refused by a block (a reindex freeze) for 15 s.
    client = OpenSearch(hosts=Config.OPENSEARCH_HOSTS)
    changes = ChangeLog(client, cache, prefix, redis_prefix, cursor_key="k", settle_seconds=2)
    service = ContactService(client, prefix, changes=changes)
    log_index = IndexNames(prefix, "changes").write
    workspace = "ws_refused"
    first = service.create({"workspaceId": workspace, "firstName": "Before"})

    client.indices.put_settings(index=log_index, body={"index.blocks.write": True})
    try:
        with pytest.raises(ServiceUnavailable):
            service.update(first.contact["id"], [workspace], {"firstName": "During"})
    finally:
        client.indices.put_settings(index=log_index, body={"index.blocks.write": False})
    # The contact write happened; its change is held back, not lost.
    assert service.get(first.contact["id"], [workspace]).contact["firstName"] == "During"
    assert changes.events_after(workspace, 1, 100)[0] == []
    time.sleep(2.1)

    events, _ = changes.events_after(workspace, 0, 100)

    assert [(e["type"], e["contact"]["firstName"]) for e in events] == [
        ("contact.created", "Before"),
        ("contact.updated", "During"),
    ]
