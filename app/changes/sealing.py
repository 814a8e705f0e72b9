"""SecretBox: webhook signing secrets sealed at rest.

A subscription's secret must be readable by the worker (it signs every delivery with
it: HMAC needs the secret itself, so a hash will not do), but a copy of the webhooks
index (a snapshot, a misdirected backup, a read-only engine user) must not let anyone
sign events a receiver would trust. So the stored value is the secret encrypted and
authenticated with Fernet (AES-128-CBC + HMAC-SHA256, the `cryptography` package) under
a key that lives only in the service's configuration, never in the store.

- Stored form: `sealed:v1:<Fernet token>`. A value without the prefix is a secret
  stored before sealing: it is read as it is and sealed at its subscription's next save.
- Keys: WEBHOOK_SECRET_KEYS, comma-separated passphrases (each hashed to a Fernet key).
  The first seals; every one opens, so a key is rotated by putting the new one first
  and dropping the old one once every subscription has been saved again. Unset: a
  public development key (like the other secrets in app/config.py).
- A secret no configured key opens raises SealedSecretError: the worker records the
  attempt as failed with that reason (the subscription pauses like any failing one)
  instead of signing with a wrong key.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "sealed:v1:"
DEV_KEY = "dev-only-webhook-secret-key-change-me"


class SealedSecretError(Exception):
    """A sealed secret that none of the configured keys opens."""


def _fernet(passphrase: str) -> Fernet:
    digest = hashlib.sha256(passphrase.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class SecretBox:
    def __init__(self, passphrases: str | list[str] | None) -> None:
        if isinstance(passphrases, str):
            passphrases = [p.strip() for p in passphrases.split(",")]
        keys = [p for p in passphrases or [] if p] or [DEV_KEY]
        self._box = MultiFernet([_fernet(p) for p in keys])

    def seal(self, secret: str) -> str:
        """The stored form of `secret` (a value already sealed is kept as it is)."""
        if secret.startswith(PREFIX):
            return secret
        return PREFIX + self._box.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret itself, from its stored form (or a secret stored before sealing)."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._box.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SealedSecretError(
                "The signing secret cannot be opened with WEBHOOK_SECRET_KEYS."
            ) from None
