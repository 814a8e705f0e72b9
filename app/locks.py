"""RenewableLock: the one Redis lock of the service (imports, reindex, DNC cache builds,
the DNC reconciler).

A redis-py `Lock` (SET NX PX with a random token, compare-and-delete on release) held
for a short lifetime and renewed by a background thread while its holder lives, so a
long run keeps it and a dead one lets it lapse within `ttl` seconds. The token is the
lock key's value, so a Lua script can make a write conditional on still holding it
(ImportService saves its record that way).

A release that cannot reach Redis (a cut, a restart) is retried in the background until
Redis answers, the lock is no longer ours, or it would have lapsed anyway: a lock left
behind by a blip would otherwise hold every other taker off for the rest of its
lifetime after Redis is back (all of a workspace's DNC writes wait on its flags lock).
The retry is the same compare-and-delete on our token, so it never frees another's lock.
Likewise an acquisition whose reply was lost: when the SET fails with a connection
error it may still have landed, so its token is freed the same way; when redis-py's own
retry of a SET that had landed finds the key taken, the key holds our token and the
lock is ours.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import redis
from redis.exceptions import LockError

log = logging.getLogger(__name__)

# How often a release that could not reach Redis is tried again.
RELEASE_RETRY_SECONDS = 0.1


class RenewableLock:
    def __init__(self, client: redis.Redis, key: str, ttl: float) -> None:
        self.key, self.ttl = key, ttl
        self._client = client
        self._lock = client.lock(key, timeout=ttl, blocking=False, thread_local=False)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False

    @property
    def token(self) -> str:
        """The value the key holds while this lock owns it."""
        token = self._lock.local.token
        return token.decode() if isinstance(token, bytes) else token

    def acquire(self) -> bool:
        """Take the lock if it is free (never waits) and keep renewing it."""
        token = uuid.uuid4().hex.encode()
        try:
            taken = self._lock.acquire(token=token) or self._landed(token)
        except redis.RedisError:
            self._release_when_back_in_background(token)
            raise
        if not taken:
            return False
        self._renewer = threading.Thread(target=self._renew, daemon=True, name=f"lock {self.key}")
        self._renewer.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            try:
                self._lock.reacquire()
            except LockError:  # taken over after we stalled: the holder's next guarded step fails
                self.lost = True
                return
            except redis.RedisError as exc:  # a blip: try again before the lifetime ends
                log.warning("lock %s renewal failed: %s", self.key, exc)

    def release(self) -> None:
        """Stop renewing and free the lock if it is still ours."""
        if self._renewer is None:
            return  # never acquired
        self._stop.set()
        self._renewer.join()
        token = self._lock.local.token
        self._lock.local.token = None
        if not self._release(token):
            self._release_when_back_in_background(token)

    def _landed(self, token: bytes) -> bool:
        """Whether the key holds `token` (a SET whose first reply was lost): then it is ours."""
        if self._client.get(self.key) != token:
            return False
        self._lock.local.token = token
        return True

    def _release(self, token) -> bool:
        """Free the lock if it still holds `token`; False when Redis did not answer."""
        try:
            self._lock.do_release(token)
        except LockError:
            log.info("lock %s was no longer ours at release", self.key)
        except redis.RedisError as exc:
            log.warning("lock %s release failed, retrying until Redis is back: %s", self.key, exc)
            return False
        return True

    def _release_when_back_in_background(self, token) -> None:
        threading.Thread(
            target=self._release_when_back, args=(token,), daemon=True, name=f"unlock {self.key}"
        ).start()

    def _release_when_back(self, token) -> None:
        # Past `ttl` the key has lapsed on its own (its last renewal was before release).
        deadline = time.monotonic() + self.ttl
        while time.monotonic() < deadline:
            time.sleep(RELEASE_RETRY_SECONDS)
            try:
                self._lock.do_release(token)
                return
            except LockError:
                return  # lapsed, maybe taken by another since: not ours to free
            except redis.RedisError:
                continue
