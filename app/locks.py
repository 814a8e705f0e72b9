"""RenewableLock: the one Redis lock of the service (imports, reindex, DNC cache builds,
the DNC reconciler).

A redis-py `Lock` (SET NX PX with a random token, compare-and-delete on release) held
for a short lifetime and renewed by a background thread while its holder lives, so a
long run keeps it and a dead one lets it lapse within `ttl` seconds. The token is the
lock key's value, so a Lua script can make a write conditional on still holding it
(ImportService saves its record that way).
"""

from __future__ import annotations

import logging
import threading

import redis
from redis.exceptions import LockError

log = logging.getLogger(__name__)


class RenewableLock:
    def __init__(self, client: redis.Redis, key: str, ttl: float) -> None:
        self.key, self.ttl = key, ttl
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
        if not self._lock.acquire():
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
        try:
            self._lock.release()
        except LockError:
            log.info("lock %s was no longer ours at release", self.key)
        except redis.RedisError as exc:  # it lapses on its own within ttl
            log.warning("lock %s release failed: %s", self.key, exc)
