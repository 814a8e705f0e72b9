"""Webhook signing secrets are sealed at rest: the store never holds one in the clear,
deliveries are still signed with the secret the subscriber was shown, a secret stored
before sealing keeps working and is sealed at its next save, keys rotate, and a secret
no configured key opens is never used to sign (the attempt fails with that reason)."""

from __future__ import annotations

import json

import pytest

from app.changes import delivery
from app.changes.sealing import PREFIX, SealedSecretError, SecretBox
from tests.api.test_webhooks import HOOKS, Receiver, subscribe


@pytest.fixture
def target():
    receiver = Receiver()
    yield receiver
    receiver.close()


def service(app, box: SecretBox | None = None):
    webhooks = app.extensions["wiring"].webhooks
    if box is not None:
        webhooks = type(webhooks)(
            webhooks.client,
            webhooks.redis,
            app.config["INDEX_PREFIX"],
            app.config["REDIS_KEY_PREFIX"],
            webhooks.changes,
            allow_private=True,
            secret_box=box,
        )
    return webhooks


def stored(app, webhook_id: str) -> dict:
    webhooks = service(app)
    return webhooks.client.get(index=webhooks.names.read, id=webhook_id, realtime=True)


def add_event(client, workspace, auth, n: int = 0) -> None:
    body = {"workspaceId": workspace, "firstName": f"Sealed{n}", "phone": f"+1415555{4000 + n}"}
    assert client.post("/v1/contacts", headers=auth, json=body).status_code == 201


def test_the_store_holds_the_secret_sealed_and_never_in_the_clear(app, client, workspace, auth):
    hook = subscribe(client, workspace, auth, "http://127.0.0.1:9/hooks")
    assert hook["secret"].startswith("whsec_")
    raw = stored(app, hook["id"])
    assert raw["_source"]["secret"].startswith(PREFIX)
    assert hook["secret"] not in json.dumps(raw)
    assert service(app).box.open(raw["_source"]["secret"]) == hook["secret"]
    listed = client.get(f"{HOOKS}?workspaceId={workspace}", headers=auth).json["data"]
    assert all("secret" not in item for item in listed)


def test_a_delivery_is_signed_with_the_secret_the_subscriber_was_shown(
    app, client, workspace, auth, target
):
    hook = subscribe(client, workspace, auth, target.url)
    add_event(client, workspace, auth)
    assert service(app)._deliver(hook["id"]) == 1
    ((headers, body),) = target.requests
    assert delivery.verify(hook["secret"], headers["X-Contacts-Signature"], body)
    sealed = stored(app, hook["id"])["_source"]["secret"]
    assert not delivery.verify(sealed, headers["X-Contacts-Signature"], body)


def test_a_secret_stored_before_sealing_still_signs_and_is_sealed_at_the_next_save(
    app, client, workspace, auth, target
):
    hook = subscribe(client, workspace, auth, target.url)
    webhooks = service(app)
    raw = stored(app, hook["id"])
    legacy = "whsec_stored-in-the-clear-before-sealing"
    webhooks.client.index(
        index=webhooks.names.write,
        id=hook["id"],
        body={**raw["_source"], "secret": legacy},
        refresh="wait_for",
    )
    add_event(client, workspace, auth)
    assert webhooks._deliver(hook["id"]) == 1
    ((headers, body),) = target.requests
    assert delivery.verify(legacy, headers["X-Contacts-Signature"], body)
    after = stored(app, hook["id"])["_source"]["secret"]
    assert after.startswith(PREFIX) and legacy not in after
    assert webhooks.box.open(after) == legacy


def test_a_secret_no_key_opens_is_never_used_and_the_attempt_says_why(
    app, client, workspace, auth, target
):
    hook = subscribe(client, workspace, auth, target.url)
    add_event(client, workspace, auth)
    assert service(app, SecretBox("a-key-that-did-not-seal-it"))._deliver(hook["id"]) == 0
    assert target.requests == []  # nothing signed with a wrong key went out
    shown = client.get(f"{HOOKS}/{hook['id']}", headers=auth).json["data"]
    assert shown["failures"] == 1
    assert "cannot be opened" in shown["attempts"][0]["error"]
    # With the key that sealed it, the same subscription delivers, signed as shown.
    webhooks = service(app)
    raw = stored(app, hook["id"])
    webhooks.client.index(
        index=webhooks.names.write,
        id=hook["id"],
        body={**raw["_source"], "nextAttemptAt": "2000-01-01T00:00:00.000Z"},
        refresh="wait_for",
    )
    assert webhooks._deliver(hook["id"]) == 1
    ((headers, body),) = target.requests
    assert delivery.verify(hook["secret"], headers["X-Contacts-Signature"], body)


def test_keys_rotate_new_first_and_old_still_opening():
    old, new = SecretBox("old-key"), SecretBox("new-key, old-key")
    sealed_old = old.seal("whsec_x")
    assert new.open(sealed_old) == "whsec_x"
    assert new.seal("whsec_y") != old.seal("whsec_y")
    assert SecretBox("new-key").open(new.seal("whsec_y")) == "whsec_y"
    with pytest.raises(SealedSecretError):
        SecretBox("new-key").open(sealed_old)
    assert new.seal(sealed_old) == sealed_old  # sealing is idempotent


@pytest.mark.parametrize(
    "stored_value",
    [PREFIX, PREFIX + "x" * 5000, PREFIX + "é😀", PREFIX + "gAAAAA" + "A" * 100],
)
def test_a_forged_or_damaged_sealed_value_is_refused(stored_value):
    with pytest.raises(SealedSecretError):
        SecretBox(None).open(stored_value)


def test_a_sealed_value_changed_by_one_character_is_refused():
    box = SecretBox(None)
    sealed = box.seal("whsec_z")
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    with pytest.raises(SealedSecretError):
        box.open(flipped)
