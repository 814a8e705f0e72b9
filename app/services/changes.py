"""ChangeLog: every create, update and delete of a contact and every DNC change of a
workspace, in the order they happened, for `GET /v1/contacts/changes` and the webhooks.

The contract: a client that pages with `nextCursor` sees every change exactly once, in
order, while writes go on, across a reindex of the contacts index, and after Redis
loses its memory. How:

- **Numbers.** Each change gets the next number of a per-workspace sequence (Redis
  HINCRBY, app/changes/sequence.py), and is stored as one document `<ws>:<seq>` in the
  `changes` index (its own index: a contacts reindex never touches it). A cursor is the
  last number a page covered, signed (app/search/cursors.py).
- **No skipped writer.** Writer A may take 5 and writer B 6, and B's document may be
  stored first. So a write announces itself in the workspace's in-flight set *before*
  it touches anything, and leaves it only once its change document is stored; a reader
  never reads at or past the lowest announced number (the horizon). Below it, every
  number is final: its document is stored, or the number was never used. Pages are then
  a real-time multi-get of the numbers between the cursor and the horizon, so a change
  is visible the moment its write is acknowledged, with no index refresh.
- **Order matches the data.** A write takes its number *after* its change is stored,
  and the document records the state read *after* the number was taken (a contact's
  current source, or a tombstone when it is gone; a number's current listing).
  Whatever order two writers of one record interleave in, the higher number carries
  the later state: a follower that applies changes in order ends where the store is.
  The price is one real-time multi-get per write. A writer that knows what it stored
  (a batch: each item's document and the version the engine gave it) passes it as
  `written`; the multi-get then fetches versions only, and a record still at the
  version written is recorded from the known document (the same state: nothing wrote
  it since); any other is read in full, as before. Reading the state back and shaping
  the change documents is app/services/change_records.py (ChangeRecords). A create
  under a new random id is the one exception: no writer can touch that record before
  it exists, so it takes its number first and stores its change in the same `_bulk`
  as the record (app/services/change_writes.py, with the proof and the failure cases).
- **Acknowledged means recorded.** The write answers only after its change document is
  stored. When it cannot be (OpenSearch refuses, Redis is gone) the write answers 503
  and its in-flight member stays, with the ids it touched. A member older than
  CHANGES_SETTLE_SECONDS is settled by the next reader: it reads those records and
  stores their state under the member's numbers (or none, for a create that never
  landed). Recording is idempotent, so a slow writer and a settler may both finish it.
- **Redis loss.** The counter restarts from the log (highest stored number + a margin)
  and never goes backwards; readers pause for CHANGES_SETTLE_SECONDS so that writes in
  flight at the loss can finish (see app/changes/sequence.py).
- **Retention.** The worker purges changes older than CHANGES_RETENTION_SECONDS
  (app/services/change_retention.py); a cursor below the purged position answers 410
  `cursor_expired` (resync from a full export, then follow with `from=now`).

Without a cursor a reader starts at the oldest retained change (`from=oldest`, the
default) or at the head (`from=now`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import redis
from opensearchpy import OpenSearch

from app.changes.sequence import SENTINEL, STALE, token_age
from app.changes.sequence import Sequence as RedisSequence
from app.errors import CursorExpired, ServiceUnavailable
from app.search import cursors
from app.search.bulk_bodies import BULK_REPLY, bulk_body
from app.search.indices import IndexNames
from app.services.change_records import UNRECORDED, ChangeRecords, Written
from app.services.change_retention import read_floor
from app.services.paging import cursor_error

log = logging.getLogger(__name__)

# After a Redis loss the counter resumes this far past the highest stored number: writes
# in flight at the loss may still store numbers up to it.
RECOVERY_MARGIN = 10_000
# Numbers looked at per page at most (empty stretches after a recovery are skipped).
MAX_SCAN = 20_000
# DNC numbers recorded per in-flight member (a million-number import is many members).
DNC_CHUNK = 5_000
# Recording a change is tried this many times (0.1 s, 0.2 s apart) before the write's 503.
RECORD_ATTEMPTS = 3
CONTACT_OPS = ("created", "updated", "deleted")
DNC_OPS = ("added", "updated", "removed", "expired")


def dnc_entry(workspace_id: str, op: str, item) -> list:
    """What an in-flight member remembers of a DNC change: [entry id, op, value, kind]."""
    if isinstance(item, str):  # a number listed workspace-wide on every channel
        return [f"{workspace_id}:{item}", op, item, "exact"]
    return [item.doc_id(workspace_id), op, item.value, item.kind]


def contact_entries(op: str, contacts: Iterable[dict]) -> list[list]:
    """What an in-flight member remembers of a contact write: [id, op, externalId]."""
    return [[c["id"], op, c.get("externalId")] for c in contacts]


class _NoChanges:
    """The change log of a service built without one (scripts, benchmarks' baselines)."""

    def begin(self, workspace_id, entries, kind="contact"):
        return None

    def commit(self, workspace_id, token, entries, kind="contact", written=None):
        return None

    def withdraw(self, workspace_id, token):
        return None


NO_CHANGES = _NoChanges()


class ChangeLog:
    def __init__(
        self,
        client: OpenSearch,
        redis_client: redis.Redis,
        index_prefix: str,
        redis_prefix: str,
        *,
        cursor_key: str | bytes,
        settle_seconds: float = 30.0,
    ) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "changes")
        self.records = ChangeRecords(
            client, IndexNames(index_prefix, "contacts"), IndexNames(index_prefix, "dnc")
        )
        self.sequence = RedisSequence(redis_client, redis_prefix)
        self.codec = cursors.CursorCodec(cursor_key)
        self.settle_seconds = settle_seconds

    # --- writers ------------------------------------------------------------------------

    def begin(self, workspace_id: str, entries: list[list], kind: str = "contact") -> str:
        """Announce a write before it changes anything; 503 if Redis cannot take it."""
        payload = {"kind": kind, "entries": entries}
        _, token = self._announce(workspace_id, lambda: self.sequence.begin(workspace_id, payload))
        return token

    def begin_numbered(self, workspace_id: str, entries: list[list]) -> tuple[str, int]:
        """Announce a write of records that do not exist yet and take its numbers in the
        same Redis call: (member, first number). Only for new random ids
        (app/services/change_writes.py says why); 503 if Redis cannot take it."""
        payload = {"kind": "contact", "entries": entries}
        first, token = self._announce(
            workspace_id,
            lambda: self.sequence.begin_numbered(workspace_id, payload, len(entries)),
        )
        return token, first

    def _announce(self, workspace_id: str, call) -> tuple[int, str]:
        """`call` (a sequence script answering (number, member)), once more after a
        recovery if Redis lost the sequence; 503 if it cannot be taken."""
        try:
            number, token = call()
            if number == STALE:
                self._recover(workspace_id)
                number, token = call()
        except redis.RedisError as exc:
            raise ServiceUnavailable(
                "The change feed is unavailable; nothing was written."
            ) from exc
        if number == STALE:
            raise ServiceUnavailable("The change feed is recovering; retry.")
        return number, token

    def commit(
        self,
        workspace_id: str,
        token: str | None,
        entries: list[list],
        kind: str = "contact",
        written: Written | None = None,
    ) -> None:
        """Take numbers for a stored write, store its change documents, leave the set.

        `written`: contact id -> (index, seq_no, primary_term, document) of what this
        write stored, when the writer knows it (see the module docstring).

        Retried briefly (the engine refuses work under load); then 503: the member stays,
        and a reader settles it after CHANGES_SETTLE_SECONDS."""
        if token is None or not entries:
            if token:
                self.withdraw(workspace_id, token)
            return
        for attempt in range(RECORD_ATTEMPTS):
            try:
                self._record(workspace_id, token, entries, kind, written)
                return
            except Exception as exc:  # a refusal under load, an outage: retried, then 503
                if attempt + 1 < RECORD_ATTEMPTS:
                    time.sleep(0.1 * 2**attempt)
                    continue
                log.warning("change not recorded for %s: %r", workspace_id, exc)
                raise ServiceUnavailable(UNRECORDED) from exc

    def _record(
        self,
        workspace_id: str,
        token: str,
        entries: list[list],
        kind: str,
        written: Written | None = None,
    ) -> None:
        """Idempotent: a retry (or a settler) gets the same numbers and the same ids."""
        first = self._numbers(workspace_id, token, len(entries))
        if kind == "dnc":
            docs = self.records.dnc_documents(workspace_id, first, entries)
        else:
            docs = self.records.contact_documents(workspace_id, first, entries, written)
        # A number left without a change (a create that never landed) holds no document:
        # one stored with its write (change_writes.py) is deleted before the member leaves.
        recorded = {seq for seq, _ in docs}
        gone = [seq for seq in range(first, first + len(entries)) if seq not in recorded]
        self._store(workspace_id, docs, gone if kind != "dnc" else [])
        self.sequence.finish(workspace_id, token)

    def finish(self, workspace_id: str, token: str) -> None:
        """Leave the set: the write's change documents were stored with it
        (app/services/change_writes.py). If Redis fails here the member stays, and a
        reader settles it by recording the same state again."""
        self.withdraw(workspace_id, token)

    def withdraw(self, workspace_id: str, token: str | None) -> None:
        """The announced write did not happen (a conflict, a 404): leave the set."""
        if token:
            try:
                self.sequence.finish(workspace_id, token)
            except redis.RedisError:
                log.warning("in-flight change of %s left to settle", workspace_id)

    def record_dnc(self, workspace_id: str, events: dict[str, list]) -> None:
        """The DNC write path's hook, after the list changed: by action (added, updated,
        removed, expired), the numbers (E.164 strings) or rule entries (app/dnc/rules.py
        Rule: a prefix, a campaign scope, a channel, an expiry) it touched."""
        entries = [
            dnc_entry(workspace_id, op, item) for op, items in events.items() for item in items
        ]
        for start in range(0, len(entries), DNC_CHUNK):
            chunk = entries[start : start + DNC_CHUNK]
            token = self.begin(workspace_id, chunk, kind="dnc")
            self.commit(workspace_id, token, chunk, kind="dnc")

    def _numbers(self, workspace_id: str, token: str, count: int) -> int:
        first = self.sequence.commit(workspace_id, token, count)
        if first == STALE:
            self._recover(workspace_id)
            first = self.sequence.commit(workspace_id, token, count)
        if first == STALE:
            raise ServiceUnavailable("The change feed is recovering; retry.")
        return first

    def _store(
        self, workspace_id: str, docs: list[tuple[int, dict]], gone: Iterable[int] = ()
    ) -> None:
        body = self.lines(workspace_id, docs)
        for seq in gone:
            body.append({"delete": self._action(workspace_id, seq)})
        if not body:
            return
        result = self.client.bulk(
            index=self.names.write,
            body=bulk_body(body, self.client.transport.serializer),
            refresh="false",
            filter_path=BULK_REPLY,
        )
        if result.get("errors"):
            raise ServiceUnavailable(UNRECORDED)

    def lines(self, workspace_id: str, docs: list[tuple[int, dict]]) -> list[dict]:
        """`_bulk` lines that store change documents (index named: they may share a bulk
        with the write they record)."""
        body: list[dict] = []
        for seq, doc in docs:
            body.append({"index": self._action(workspace_id, seq)})
            body.append({"workspaceId": workspace_id, "kind": "change", "seq": seq, **doc})
        return body

    def _action(self, workspace_id: str, seq: int) -> dict:
        return {"_index": self.names.write, "_id": f"{workspace_id}:{seq}", "routing": workspace_id}

    # --- the horizon, settling and recovery ---------------------------------------------

    def horizon(self, workspace_id: str) -> int:
        """The lowest number not yet final; settles members older than the settle time."""
        low = STALE
        for _ in range(16):
            low, token = self.sequence.horizon(workspace_id)
            if low == STALE:
                self._recover(workspace_id)
                continue
            if token is None or token_age(token) < self.settle_seconds:
                return low
            self._settle(workspace_id, token)
        return max(low, 0)

    def _settle(self, workspace_id: str, token: str) -> None:
        """Finish a write that stalled or died, from the records it touched."""
        pending = self.sequence.pending(workspace_id, token)
        if token.endswith(SENTINEL) or not pending or not pending.get("entries"):
            self.sequence.finish(workspace_id, token)
            return
        log.warning("settling a stalled change of %s", workspace_id)
        self._record(workspace_id, token, pending["entries"], pending.get("kind", "contact"))

    def _recover(self, workspace_id: str) -> None:
        """Redis lost the counter: resume past the highest number the log holds."""
        self.client.indices.refresh(index=self.names.write)
        result = self.client.search(
            index=self.names.read,
            routing=workspace_id,
            body={
                "size": 0,
                "query": {"term": {"workspaceId": workspace_id}},
                "aggs": {"top": {"max": {"field": "seq"}}},
            },
        )
        top = int(result["aggregations"]["top"]["value"] or 0)
        if self.sequence.recover(workspace_id, top + RECOVERY_MARGIN if top else 0):
            log.warning("change sequence of %s recovered from the log at %d", workspace_id, top)

    # --- readers ------------------------------------------------------------------------

    def page(self, workspace_id: str, *, cursor: str | None, limit: int, start: str) -> dict:
        """One page of the feed: `{"data": [...], "meta": {"nextCursor", "hasMore"}}`."""
        after = self._decode(workspace_id, cursor) if cursor else None
        horizon = self.horizon(workspace_id)
        floor = read_floor(self.client, self.names, workspace_id)
        if after is None:
            after = floor if start == "oldest" else horizon - 1
        elif after < floor:
            raise CursorExpired()
        events, last = self.events_after(workspace_id, after, limit, horizon)
        return {
            "data": events,
            "meta": {"nextCursor": self._encode(workspace_id, last), "hasMore": last < horizon - 1},
        }

    def events_after(
        self, workspace_id: str, after: int, limit: int, horizon: int | None = None
    ) -> tuple[list[dict], int]:
        """Up to `limit` changes numbered above `after`, and the last number covered."""
        if horizon is None:
            horizon = self.horizon(workspace_id)
        events: list[dict] = []
        last, scanned = after, 0
        while len(events) < limit and last < horizon - 1 and scanned < MAX_SCAN:
            high = min(last + limit - len(events), horizon - 1)
            docs = [
                {"_id": f"{workspace_id}:{s}", "routing": workspace_id}
                for s in range(last + 1, high + 1)
            ]
            result = self.client.mget(index=self.names.read, body={"docs": docs}, realtime=True)
            for doc in result["docs"]:
                if doc.get("error"):
                    raise ServiceUnavailable("The change feed could not be read.")
                if doc.get("found"):
                    events.append(to_event(doc["_id"], doc["_source"]))
            scanned += high - last
            last = high
        return events, last

    def head(self, workspace_id: str) -> int:
        return self.horizon(workspace_id) - 1

    def _fingerprint(self, workspace_id: str) -> str:
        return cursors.fingerprint("changes", workspace_id)

    def _encode(self, workspace_id: str, seq: int) -> str:
        cursor = cursors.Cursor([seq], self._fingerprint(workspace_id))
        return self.codec.encode(cursor, workspace_id)

    def _decode(self, workspace_id: str, text: str) -> int:
        try:
            cursor = self.codec.decode(text, workspace_id, self._fingerprint(workspace_id))
        except cursors.CursorError as exc:
            raise cursor_error(str(exc)) from exc
        seq = cursor.after[0] if len(cursor.after) == 1 else None
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**62:
            raise cursor_error(cursors.INVALID)
        return seq


def to_event(doc_id: str, source: dict) -> dict:
    """A stored change as the API shows it: a contact's state, a tombstone (its id and
    externalId only), or a DNC number's listing."""
    event = {"id": doc_id, "seq": source["seq"], "type": source["type"], "at": source["at"]}
    if source["type"].startswith("dnc."):
        event["dnc"] = source.get("data")
        return event
    event.update(contactId=source.get("contactId"), externalId=source.get("externalId"))
    if source["type"] == "contact.deleted":
        event["deletedAt"] = source["at"]
    else:
        event["contact"] = source.get("data")
    return event
