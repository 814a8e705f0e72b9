"""WebhookService: subscriptions to a workspace's change feed, and their delivery.

A subscription (OpenSearch `webhooks` index, the store of record) holds its URL, a
secret returned once at creation (stored sealed: app/changes/sealing.py), and its
position in the feed. The worker
(app/worker.py) calls `deliver_due` every WEBHOOK_POLL_SECONDS: each subscription that
is due is taken under its own lock (app/locks.py), so one process at a time delivers
it, and its changes after its position are POSTed one by one, in feed order, signed
(app/changes/delivery.py). A 2xx moves the position past the event; anything else
stops the pass, counts a failure and schedules the next attempt after
WEBHOOK_BACKOFF_SECONDS * 2^(failures - 1) (at most WEBHOOK_BACKOFF_MAX_SECONDS);
WEBHOOK_MAX_FAILURES failures in a row pause the subscription until it is resumed.
The position is saved after each pass with compare-and-set, so a deleted subscription
is never written back. Delivery is at least once (a crash after a 2xx and before the
save sends the event again): receivers dedupe by the event id.

A new subscription starts at the head of the feed: it receives changes made after it
was created (the feed itself replays older ones).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson
import redis
from opensearchpy import ConflictError, NotFoundError, OpenSearch

from app.changes import delivery
from app.changes.sealing import SealedSecretError, SecretBox
from app.errors import Conflict, NotFound, ValidationError
from app.locks import RenewableLock
from app.search.documents import utc_now
from app.search.indices import IndexNames
from app.services.changes import ChangeLog

log = logging.getLogger(__name__)

ATTEMPTS_KEPT = 10
EVENTS_PER_PASS = 100
PUBLIC_FIELDS = (
    "id",
    "workspaceId",
    "url",
    "createdAt",
    "paused",
    "failures",
    "nextAttemptAt",
    "delivered",
    "attempts",
)


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public(source: dict) -> dict:
    """A subscription as the API shows it (never the secret)."""
    shown = {field: source.get(field) for field in PUBLIC_FIELDS}
    shown["position"] = source.get("position")
    return shown


class WebhookService:
    def __init__(
        self,
        client: OpenSearch,
        redis_client: redis.Redis,
        index_prefix: str,
        redis_prefix: str,
        changes: ChangeLog,
        *,
        allow_private: bool = False,
        backoff_seconds: float = 5.0,
        backoff_max_seconds: float = 3600.0,
        max_failures: int = 10,
        timeout_seconds: float = 5.0,
        per_workspace: int = 10,
        secret_box: SecretBox | None = None,
    ) -> None:
        self.client = client
        self.redis = redis_client
        self.names = IndexNames(index_prefix, "webhooks")
        self.redis_prefix = redis_prefix
        self.changes = changes
        self.allow_private = allow_private
        self.backoff_seconds, self.backoff_max = backoff_seconds, backoff_max_seconds
        self.max_failures = max_failures
        self.timeout = timeout_seconds
        self.per_workspace = per_workspace
        self.box = secret_box or SecretBox(None)

    # --- subscriptions ------------------------------------------------------------------

    def create(self, workspace_id: str, url: str) -> dict:
        """Subscribe `url`; the answer carries the secret, shown this once."""
        try:
            delivery.check_url(url, self.allow_private)
        except delivery.UnsafeUrl as exc:
            raise ValidationError(
                str(exc), details=[{"field": "url", "message": str(exc)}]
            ) from None
        if len(self.list(workspace_id)) >= self.per_workspace:
            raise Conflict(f"A workspace holds at most {self.per_workspace} webhooks.")
        secret = "whsec_" + secrets.token_urlsafe(32)
        source = {
            "id": "wh_" + secrets.token_urlsafe(12),
            "workspaceId": workspace_id,
            "url": url,
            "secret": self.box.seal(secret),
            "createdAt": utc_now(),
            "paused": False,
            "position": self.changes.head(workspace_id),
            "failures": 0,
            "nextAttemptAt": utc_now(),
            "delivered": 0,
            "attempts": [],
        }
        self.client.index(
            index=self.names.write,
            id=source["id"],
            body=source,
            op_type="create",
            refresh="wait_for",
        )
        return {**public(source), "secret": secret}

    def list(self, workspace_id: str) -> list[dict]:
        result = self.client.search(
            index=self.names.read,
            body={
                "query": {"term": {"workspaceId": workspace_id}},
                "sort": [{"createdAt": "asc"}, {"id": "asc"}],
                "size": 100,
            },
        )
        return [public(hit["_source"]) for hit in result["hits"]["hits"]]

    def get(self, webhook_id: str, workspaces: Iterable[str]) -> dict:
        return public(self._load(webhook_id, workspaces)[0])

    def delete(self, webhook_id: str, workspaces: Iterable[str]) -> None:
        self._load(webhook_id, workspaces)
        try:
            self.client.delete(index=self.names.write, id=webhook_id, refresh="wait_for")
        except NotFoundError:
            raise NotFound() from None

    def set_paused(self, webhook_id: str, workspaces: Iterable[str], paused: bool) -> dict:
        """Pause, or resume: the next pass retries at once, from where delivery stopped."""
        source, version = self._load(webhook_id, workspaces)
        source["paused"] = paused
        if not paused:
            source.update(failures=0, nextAttemptAt=utc_now())
        if not self._save(source, version, refresh="wait_for"):
            raise Conflict("The webhook changed meanwhile (a delivery pass); retry.")
        return public(source)

    def _load(self, webhook_id: str, workspaces: Iterable[str]) -> tuple[dict, tuple[int, int]]:
        if not webhook_id.startswith("wh_") or len(webhook_id) > 64:
            raise NotFound()
        try:
            found = self.client.get(index=self.names.read, id=webhook_id, realtime=True)
        except NotFoundError:
            raise NotFound() from None
        if found["_source"].get("workspaceId") not in set(workspaces):
            raise NotFound()
        return found["_source"], (found["_seq_no"], found["_primary_term"])

    def _save(self, source: dict, version: tuple[int, int], refresh: str = "false") -> bool:
        """Compare-and-set: False when the subscription changed or went meanwhile. A
        secret stored before sealing is sealed here."""
        source["secret"] = self.box.seal(source["secret"])
        try:
            self.client.index(
                index=self.names.write,
                id=source["id"],
                body=source,
                if_seq_no=version[0],
                if_primary_term=version[1],
                refresh=refresh,
            )
        except (ConflictError, NotFoundError):
            return False
        return True

    # --- delivery (the worker) ----------------------------------------------------------

    def deliver_due(self) -> int:
        """One pass over the subscriptions that are due; the number of events delivered."""
        result = self.client.search(
            index=self.names.read,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"paused": False}},
                            {"range": {"nextAttemptAt": {"lte": "now"}}},
                        ]
                    }
                },
                "sort": [{"nextAttemptAt": "asc"}],
                "size": 200,
                "_source": ["id"],
            },
        )
        delivered = 0
        for hit in result["hits"]["hits"]:
            lock = RenewableLock(self.redis, f"{self.redis_prefix}webhook:{hit['_id']}", 30)
            if not lock.acquire():
                continue  # another worker is delivering it
            try:
                delivered += self._deliver(hit["_id"])
            finally:
                lock.release()
        return delivered

    def _deliver(self, webhook_id: str) -> int:
        try:
            found = self.client.get(index=self.names.read, id=webhook_id, realtime=True)
        except NotFoundError:
            return 0
        source, version = found["_source"], (found["_seq_no"], found["_primary_term"])
        if source["paused"] or source["nextAttemptAt"] > utc_now():
            return 0  # the search saw an older version
        workspace_id = source["workspaceId"]
        events, last = self.changes.events_after(workspace_id, source["position"], EVENTS_PER_PASS)
        sent = 0
        for event in events:
            if not self._attempt(source, event):
                break
            sent += 1
        else:
            source["position"] = max(source["position"], last)  # gaps included
        self._save(source, version)
        return sent

    def _attempt(self, source: dict, event: dict) -> bool:
        """POST one event; record the attempt; True when it was accepted."""
        body = orjson.dumps(event)
        started = time.monotonic()
        try:
            secret = self.box.open(source["secret"])
        except SealedSecretError as exc:
            status, error = None, str(exc)  # never signed with a wrong key
        else:
            status, error = delivery.post(
                source["url"],
                secret,
                event["id"],
                body,
                timeout=self.timeout,
                allow_private=self.allow_private,
            )
        attempt = {
            "at": utc_now(),
            "eventId": event["id"],
            "status": status,
            "error": error,
            "ms": round((time.monotonic() - started) * 1000, 1),
        }
        source["attempts"] = [attempt, *(source.get("attempts") or [])][:ATTEMPTS_KEPT]
        if error is None:
            source.update(position=event["seq"], failures=0, nextAttemptAt=utc_now())
            source["delivered"] = source.get("delivered", 0) + 1
            return True
        failures = source.get("failures", 0) + 1
        delay = min(self.backoff_max, self.backoff_seconds * 2 ** min(failures - 1, 30))
        source.update(failures=failures, nextAttemptAt=_iso(time.time() + delay))
        if failures >= self.max_failures:
            source["paused"] = True
            log.warning("webhook %s paused after %d failures", source["id"], failures)
        return False

    def deliver_forever(self, stop: threading.Event, interval: float) -> None:
        """The worker's delivery loop."""
        while not stop.wait(interval):
            try:
                self.deliver_due()
            except Exception:  # a dead loop would stop every webhook: log and go on
                log.exception("webhook delivery pass failed; retrying")
