"""Per-token rate limits: a token bucket per (token, scope) in Redis.

Every /v1 request spends one token from the bucket of its bearer token and limit
scope (`contacts:read`, `contacts:write`, `contacts:export`, `contacts:import`,
`dnc:read`, `dnc:write`, `dnc:import`, falling back to `default`; a heavy action with
no entry of its own takes the contacts' entry for it). A bucket holds `limit` tokens and
refills continuously at `limit / period`, so a client may burst up to its limit and
then sustain the average rate. Requests without a valid token share an `anonymous`
bucket per client address (the view answers 401 anyway; this only caps floods).

When Redis is down the limiter fails open to a per-process bucket with the same
limits (so one client still cannot take a worker hostage), logs a warning and skips
Redis for a few seconds rather than paying a connect timeout on every request. The
DNC check never depends on this module: it stays fail-closed in the DNC code.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from flask import Flask, Response, current_app, g, request

from app import observability
from app.auth import bearer_token, decode_token
from app.errors import ApiError, RateLimited

log = logging.getLogger(__name__)

READ_ACTIONS = ("search", "normalize", "check", "lookup", "read")  # read: batch/read
HEAVY_ACTIONS = ("import", "export")
# After a Redis failure, the local buckets serve for this long before Redis is retried.
REDIS_RETRY_SECONDS = 5.0
LOCAL_BUCKETS_MAX = 10_000

# KEYS[1] bucket; ARGV limit, period in ms. Redis' own clock, so API hosts' clocks
# may drift. Returns allowed, whole tokens left, ms until one token, ms until full.
TOKEN_BUCKET = """
local limit = tonumber(ARGV[1])
local rate = limit / tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or limit
local ts = tonumber(state[2]) or now
tokens = math.min(limit, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
local reset_ms = math.ceil((limit - tokens) / rate)
redis.call('PEXPIRE', KEYS[1], reset_ms + 1000)
local retry_ms = 0
if allowed == 0 then retry_ms = math.ceil((1 - tokens) / rate) end
return {allowed, math.floor(tokens), retry_ms, reset_ms}
"""


@dataclass(frozen=True)
class Limit:
    limit: int
    period: float  # seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until one request is allowed again
    reset: float  # seconds until the bucket is full again


def parse_limits(spec: str) -> dict[str, Limit]:
    """`contacts:read=1200/60,contacts:write=300/60` -> {scope: Limit(limit, period)}."""
    limits = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        scope, _, rate = item.partition("=")
        count, _, period = rate.partition("/")
        limits[scope.strip()] = Limit(int(count), float(period or 60))
    return limits


def limit_scope(method: str, path: str) -> str:
    """The limit scope of a request, named like the token scopes plus heavy actions."""
    segments = [s for s in path.split("/") if s]
    resource = "dnc" if segments[1:2] == ["dnc"] else "contacts"
    action = segments[-1] if segments else ""
    if action == "export":
        return f"{resource}:export"
    if "import" in segments and method == "POST":
        return f"{resource}:import"
    if method in ("GET", "HEAD") or action in READ_ACTIONS:
        return f"{resource}:read"
    return f"{resource}:write"


class LocalBuckets:
    """The same token bucket in process memory: the fallback while Redis is down."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, rule: Limit) -> Decision:
        rate = rule.limit / rule.period
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > LOCAL_BUCKETS_MAX:
                self._buckets.clear()
            tokens, ts = self._buckets.get(key, (float(rule.limit), now))
            tokens = min(rule.limit, tokens + (now - ts) * rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
        retry = 0.0 if allowed else (1 - tokens) / rate
        return Decision(allowed, rule.limit, int(tokens), retry, (rule.limit - tokens) / rate)


class RateLimiter:
    def __init__(self, client: redis.Redis, key_prefix: str, limits: dict[str, Limit]) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.limits = limits
        self.local = LocalBuckets()
        self._script = client.register_script(TOKEN_BUCKET)
        self._redis_retry_at = 0.0

    def rule(self, scope: str) -> Limit | None:
        """The scope's limit. A heavy action (import, export) the spec leaves out takes the
        contacts' limit for that action, never `default`: a synchronous 100 MiB DNC
        import must not be allowed 600 times a minute because a line was forgotten."""
        if scope in self.limits:
            return self.limits[scope]
        action = scope.partition(":")[2]
        if action in HEAVY_ACTIONS and f"contacts:{action}" in self.limits:
            return self.limits[f"contacts:{action}"]
        return self.limits.get("default")

    def key(self, identity: str, scope: str) -> str:
        # The identity is a hash tag: one client's buckets share a Redis Cluster slot.
        return f"{self.key_prefix}ratelimit:{{{identity}}}:{scope}"

    def take(self, identity: str, scope: str) -> Decision | None:
        rule = self.rule(scope)
        if rule is None:
            return None
        key = self.key(identity, scope)
        if time.monotonic() < self._redis_retry_at:
            return self.local.take(key, rule)
        try:
            allowed, remaining, retry_ms, reset_ms = self._script(
                keys=[key], args=[rule.limit, int(rule.period * 1000)]
            )
        except redis.RedisError as exc:
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            observability.RATE_LIMIT_BACKEND_ERRORS.inc()
            log.warning("rate limits fall back to per-process buckets: Redis %s", exc)
            return self.local.take(key, rule)
        return Decision(bool(allowed), rule.limit, int(remaining), retry_ms / 1000, reset_ms / 1000)


def _identity() -> str:
    token = bearer_token()
    if token:
        try:
            return f"token:{decode_token(token).token_id}"
        except ApiError:
            pass  # the view answers 401; the caller is limited as anonymous meanwhile
    return f"addr:{request.remote_addr}"


def check_rate_limit() -> None:
    if not request.path.startswith("/v1/") or request.method == "OPTIONS":
        return
    limiter: RateLimiter = current_app.extensions["ratelimiter"]
    identity = _identity()
    scope = limit_scope(request.method, request.path)
    if identity.startswith("addr:"):
        scope = "anonymous"
    decision = limiter.take(identity, scope)
    if decision is None:
        return
    g.rate_limit = decision
    if not decision.allowed:
        observability.RATE_LIMITED.labels(scope).inc()
        raise RateLimited(
            f"Rate limit of {decision.limit} requests for {scope} exceeded; retry later.",
            headers={"Retry-After": str(max(1, math.ceil(decision.retry_after)))},
        )


def add_rate_limit_headers(response: Response) -> Response:
    decision: Decision | None = g.get("rate_limit")
    if decision is not None:
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
        # Seconds until the bucket is full again (delta, not an epoch: no clock skew).
        response.headers["X-RateLimit-Reset"] = str(math.ceil(decision.reset))
    return response


def init_app(app: Flask) -> None:
    app.extensions["ratelimiter"] = RateLimiter(
        app.extensions["redis"],
        app.config["REDIS_KEY_PREFIX"],
        parse_limits(app.config["RATE_LIMITS"]),
    )
    if app.config["RATE_LIMIT_ENABLED"]:
        app.before_request(check_rate_limit)
        app.after_request(add_rate_limit_headers)
