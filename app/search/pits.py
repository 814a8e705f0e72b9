"""A per-workspace budget of open points in time (PITs).

OpenSearch keeps at most `search.max_open_pit_context` PITs (300 by default) for every
tenant together. Cursor paging opens one from page 2 on, and every export holds one
while it streams: without a budget, one client replaying page-1 cursors could take them
all, and every other tenant's export would fail. So each workspace may hold at most
PIT_MAX_PER_WORKSPACE at a time.

Accounting is a Redis sorted set per workspace (the workspace is the key's hash tag):
member = PIT id, score = the time it lapses (now + keep-alive, pushed forward on each
use). Lapsed members are dropped before counting, so a PIT nobody closed stops counting
when the engine drops it too. Count-and-add runs as one Lua script, atomic across
workers. A slot is reserved before the engine is asked, so two racing requests can
never both take the last one.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

import redis

log = logging.getLogger(__name__)

RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    """OpenSearch's time unit strings ("30s", "1m") in seconds."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return int(match[1]) * UNITS[match[2]]


class PitBudget:
    def __init__(self, store: redis.Redis, key_prefix: str, *, limit: int, keep_alive: str) -> None:
        self.store = store
        self.key_prefix = key_prefix
        self.limit = limit
        self.keep_alive_seconds = duration_seconds(keep_alive)
        self._reserve = store.register_script(RESERVE)

    def _key(self, workspace_id: str) -> str:
        return f"{self.key_prefix}pits:{{{workspace_id}}}"

    def reserve(self, workspace_id: str) -> str | None:
        """A reservation to open one PIT, or None when the workspace holds its limit."""
        now = time.time()
        token = "reserved:" + secrets.token_hex(8)
        lapse = now + self.keep_alive_seconds
        expire = int(self.keep_alive_seconds) + 60
        args = [now, self.limit, lapse, token, expire]
        return token if self._reserve(keys=[self._key(workspace_id)], args=args) else None

    def bind(self, workspace_id: str, reservation: str, pit: str) -> None:
        """The engine opened the PIT: it takes the reserved slot."""
        key, lapse = self._key(workspace_id), time.time() + self.keep_alive_seconds
        pipe = self.store.pipeline()
        pipe.zrem(key, reservation)
        pipe.zadd(key, {pit: lapse})
        self._quietly(pipe.execute)

    def touch(self, workspace_id: str, pit: str) -> None:
        """The PIT was used (and its keep-alive renewed): it lapses later."""
        lapse = time.time() + self.keep_alive_seconds
        self._quietly(lambda: self.store.zadd(self._key(workspace_id), {pit: lapse}, xx=True))

    def release(self, workspace_id: str, member: str) -> None:
        """A PIT closed, or a reservation the engine refused: the slot is free again."""
        self._quietly(lambda: self.store.zrem(self._key(workspace_id), member))

    def members(self, workspace_id: str) -> list[str]:
        """The PIT ids (and reservations) the workspace holds now; for operators and tests."""
        key = self._key(workspace_id)
        return [m.decode() for m in self.store.zrangebyscore(key, time.time(), "+inf")]

    @staticmethod
    def _quietly(call) -> None:
        # Bookkeeping after the fact: a lost update only makes a slot lapse on its score.
        try:
            call()
        except redis.RedisError:
            log.warning("could not update the point-in-time budget")
