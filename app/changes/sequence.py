"""The per-workspace change sequence and its in-flight set, in Redis.

Three keys per workspace, all under the hash tag `{ws}` so every script below touches
one Redis Cluster slot:

- `...:seq` (hash): `n`, the last sequence number handed out, and `run`, the run_id of
  the Redis server that holds it (the stamp app/dnc/cache.py uses too);
- `...:inflight` (sorted set): one member per write that has announced itself and not
  yet finished recording; its score is the lowest sequence number it can still take;
- `...:pending` (hash): what each in-flight write touches (JSON), so that a write that
  stalled or died is finished by whoever finds it (see app/services/changes.py).

A write announces itself *before* it changes anything (`begin`: score = n + 1), takes
its numbers *after* its change is stored (`commit`: score raised to its first number),
and leaves the set when its change documents are written (`finish`). A reader never
passes the lowest score in the set: every number below it is settled for good. A write
of records that cannot exist before it (a create under a new random id) announces and
takes its numbers in one call (`begin_numbered`, score = its first number): no writer
of those records can take a number before it (app/services/change_writes.py).

Redis is a cache here too. When the stamp is missing or names another server run
(restart without the data, a replayed older file, a failover, a wipe), every script
answers -1 and the caller recovers: it passes the highest number the log in OpenSearch
holds plus a margin, the counter becomes the larger of that and what Redis still has
(never backwards), and a sentinel member at score 0 holds every reader back until the
writes that were in flight when Redis lost its memory have finished (it is settled
like any stale member, after CHANGES_SETTLE_SECONDS).
"""

from __future__ import annotations

import json
import secrets
import time

import redis

from app.redis_lua import READ_RUN_ID

STALE = -1
SENTINEL = "sentinel"

_STAMPED = READ_RUN_ID + "if redis.call('HGET', KEYS[1], 'run') ~= runid then return -1 end\n"

_BEGIN = (
    _STAMPED
    + """
local nxt = tonumber(redis.call('HGET', KEYS[1], 'n') or '0') + 1
redis.call('ZADD', KEYS[2], nxt, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return nxt
"""
)

# `begin` and `commit` at once, for a write of records that do not exist yet (a new
# random id): nothing can write them before this write, so every other writer of them
# takes its number after this one (app/services/change_writes.py says why).
_BEGIN_NUMBERED = (
    _STAMPED
    + """
local n = tonumber(ARGV[3])
local first = redis.call('HINCRBY', KEYS[1], 'n', n) - n + 1
redis.call('ZADD', KEYS[2], first, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2], ARGV[1] .. '#first', first)
return first
"""
)

# Idempotent: a settler and a late writer committing one member get the same numbers.
_COMMIT = (
    _STAMPED
    + """
local first = redis.call('HGET', KEYS[3], ARGV[1] .. '#first')
if first then return tonumber(first) end
local n = tonumber(ARGV[2])
first = redis.call('HINCRBY', KEYS[1], 'n', n) - n + 1
redis.call('ZADD', KEYS[2], first, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1] .. '#first', first)
return first
"""
)

_FINISH = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1], ARGV[1] .. '#first')
return 1
"""

_HORIZON = (
    _STAMPED
    + """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local low = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #low == 0 then return {n + 1, ''} end
return {math.min(tonumber(low[2]), n + 1), low[1]}
"""
)

_RECOVER = (
    READ_RUN_ID
    + """
if redis.call('HGET', KEYS[1], 'run') == runid then return 0 end
local held = redis.call('EXISTS', KEYS[1])
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if tonumber(ARGV[1]) > n then redis.call('HSET', KEYS[1], 'n', ARGV[1]) end
redis.call('HSET', KEYS[1], 'run', runid)
if held == 1 or tonumber(ARGV[1]) > 0 then
  redis.call('ZADD', KEYS[2], 0, ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[2], '{"kind":"sentinel"}')
end
return 1
"""
)


def new_token() -> str:
    """A member of the in-flight set: its birth time (ms) and a random part."""
    return f"{int(time.time() * 1000)}.{secrets.token_hex(6)}"


def token_age(token: str) -> float:
    """Seconds since the member was announced (0 for a token that does not parse)."""
    born, _, _ = token.partition(".")
    return time.time() - int(born) / 1000 if born.isdigit() else 0.0


class Sequence:
    """The scripts above, bound to one Redis client and key prefix."""

    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self.client = client
        self.prefix = key_prefix
        self._begin = client.register_script(_BEGIN)
        self._begin_numbered = client.register_script(_BEGIN_NUMBERED)
        self._commit = client.register_script(_COMMIT)
        self._finish = client.register_script(_FINISH)
        self._horizon = client.register_script(_HORIZON)
        self._recover = client.register_script(_RECOVER)

    def keys(self, workspace_id: str) -> list[str]:
        base = f"{self.prefix}changes:{{{workspace_id}}}"
        return [f"{base}:seq", f"{base}:inflight", f"{base}:pending"]

    def begin(self, workspace_id: str, payload: dict) -> tuple[int, str]:
        """(STALE or the member's first possible number, member)."""
        token = new_token()
        result = self._begin(keys=self.keys(workspace_id), args=[token, json.dumps(payload)])
        return int(result), token

    def begin_numbered(self, workspace_id: str, payload: dict, count: int) -> tuple[int, str]:
        """(STALE or the first of `count` numbers taken at once, member): `begin` and
        `commit` in one call, for new records only (see _BEGIN_NUMBERED)."""
        token = new_token()
        result = self._begin_numbered(
            keys=self.keys(workspace_id), args=[token, json.dumps(payload), count]
        )
        return int(result), token

    def commit(self, workspace_id: str, token: str, count: int) -> int:
        """The first of `count` numbers taken for `token` (STALE when Redis lost its state)."""
        return int(self._commit(keys=self.keys(workspace_id), args=[token, count]))

    def finish(self, workspace_id: str, token: str) -> None:
        self._finish(keys=self.keys(workspace_id), args=[token])

    def horizon(self, workspace_id: str) -> tuple[int, str | None]:
        """(the lowest number a reader may not pass yet, the in-flight member holding it)."""
        result = self._horizon(keys=self.keys(workspace_id))
        if result == STALE:
            return STALE, None
        low, token = result
        token = token.decode() if isinstance(token, bytes) else token
        return int(low), token or None

    def pending(self, workspace_id: str, token: str) -> dict | None:
        raw = self.client.hget(self.keys(workspace_id)[2], token)
        return json.loads(raw) if raw else None

    def recover(self, workspace_id: str, floor: int) -> bool:
        """Re-stamp after a loss: the counter becomes at least `floor`. True if this call
        did it (another process may have been first)."""
        sentinel = f"{new_token()}.{SENTINEL}"
        return bool(self._recover(keys=self.keys(workspace_id), args=[floor, sentinel]))
