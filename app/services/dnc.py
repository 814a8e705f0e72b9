"""DncService: the per-workspace Do-Not-Call list.

OpenSearch (`dnc` index, one document per workspace and number, id `<ws>:<e164>`) is
the record; every change is also kept in `dnc_history`. Redis holds the membership
cache (app/dnc). Writes go to OpenSearch first, then the cache. Checks read the cache
and fall back to a real-time multi-get on OpenSearch when Redis is down or the
workspace's cache is not ready; when neither answers the caller gets a 503, never
"not listed".
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

import redis
from opensearchpy import NotFoundError, OpenSearch
from opensearchpy.helpers import scan

from app.dnc import DncCache
from app.errors import NotFound, ServiceUnavailable, ValidationError
from app.phones import normalize, to_e164
from app.search.documents import utc_now
from app.search.indices import IndexNames

log = logging.getLogger(__name__)

ENTRY_FIELDS = ("workspaceId", "phone", "reason", "source", "addedAt", "updatedAt")
MAX_OFFSET_WINDOW = 10_000
BUILD_BATCH = 5_000
BUILD_LOCK_MS = 15 * 60 * 1000
INVALIDATE_RETRY_SECONDS = 3600
UNAVAILABLE = "Neither the DNC cache nor OpenSearch answered; no number may be called."


@functools.lru_cache(maxsize=200_000)
def canonical(raw: str, country: str) -> str | None:
    """E.164 of a valid number, memoized: dialers check the same numbers over and over."""
    return to_e164(raw, country)


def new_entry(
    workspace_id: str, phone: str, reason: str | None, source: str | None, actor: str, now: str
) -> dict:
    """The stored document of a newly listed number."""
    return {
        "workspaceId": workspace_id,
        "phone": phone,
        "reason": reason,
        "source": source,
        "addedBy": actor or None,
        "addedAt": now,
        "updatedAt": now,
    }


def _entry(source: dict) -> dict:
    return {field: source.get(field) for field in ENTRY_FIELDS}


class DncService:
    def __init__(
        self,
        client: OpenSearch,
        cache_client: redis.Redis,
        index_prefix: str,
        key_prefix: str,
        default_country: str = "US",
        *,
        bucket_target: int = 128,
        lazy_build: bool = True,
    ) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "dnc")
        self.history = IndexNames(index_prefix, "dnc_history")
        self.contacts = IndexNames(index_prefix, "contacts")
        self.cache = DncCache(cache_client, key_prefix, bucket_target)
        self.default_country = default_country
        self.lazy_build = lazy_build
        # Workspaces whose cache missed a write while Redis was unreachable: this
        # process does not trust their cache until it has managed to invalidate it.
        self._suspect: set[str] = set()
        self._pending_builds: set[str] = set()
        self._pending_lock = threading.Lock()

    # --- numbers ------------------------------------------------------------------

    def phone_or_400(self, raw: str, country: str | None = None) -> str:
        phone = canonical(raw, (country or self.default_country).upper())
        if phone is None:
            reasons = ", ".join(normalize(raw, country or self.default_country).validationErrors)
            raise ValidationError(
                details=[{"field": "phone", "message": f"Not a valid phone number ({reasons})."}]
            )
        return phone

    @staticmethod
    def doc_id(workspace_id: str, phone: str) -> str:
        return f"{workspace_id}:{phone}"

    # --- writes -------------------------------------------------------------------

    def add(
        self,
        workspace_id: str,
        raw_phone: str,
        *,
        reason: str | None = None,
        source: str | None = None,
        actor: str = "",
        country: str | None = None,
        refresh: str | None = None,
    ) -> tuple[dict, bool]:
        """List a number; listing it again updates the reason. Returns (entry, existed)."""
        phone = self.phone_or_400(raw_phone, country)
        now = utc_now()
        changes = {"reason": reason, "updatedAt": now}
        if source is not None:
            changes["source"] = source
        # One upsert: a new number gets the full entry, a listed one keeps its addedAt.
        result = self.client.update(
            index=self.names.write,
            id=self.doc_id(workspace_id, phone),
            routing=workspace_id,
            body={
                "doc": changes,
                "upsert": new_entry(workspace_id, phone, reason, source, actor, now),
            },
            retry_on_conflict=3,
            refresh=refresh or "false",
            params={"_source": "true"},
        )
        document = result["get"]["_source"]
        existed = result["result"] != "created"
        # The cache follows the record at once: a failure in the side writes below must
        # never leave a listed number looking callable.
        self._mirror("add", workspace_id, [phone])
        self._record(
            workspace_id, [phone], "updated" if existed else "added", reason, source, actor, refresh
        )
        if not existed:
            self._sync_contacts(workspace_id, [phone], True)
        return _entry(document), existed

    def add_many(
        self,
        workspace_id: str,
        phones: Sequence[str],
        *,
        reason: str | None,
        source: str | None,
        actor: str = "",
    ) -> dict:
        """List already-normalized numbers in one bulk call (the CSV import path)."""
        phones = list(dict.fromkeys(phones))
        if not phones:
            return {"added": 0, "updated": 0}
        now = utc_now()
        actions: list[dict] = []
        for phone in phones:
            actions.append(
                {"update": {"_id": self.doc_id(workspace_id, phone), "routing": workspace_id}}
            )
            # Upsert: a new number gets the full entry; a listed one keeps its addedAt.
            changes = {"reason": reason, "updatedAt": now}
            if source is not None:
                changes["source"] = source
            actions.append(
                {
                    "doc": changes,
                    "upsert": new_entry(workspace_id, phone, reason, source, actor, now),
                }
            )
        try:
            result = self.client.bulk(index=self.names.write, body=actions, refresh="false")
        except Exception:
            # Some of the batch may have landed: treat all of it as listed (fail closed);
            # the retried file makes the record whole.
            self._mirror("add", workspace_id, phones)
            raise
        added, updated, failed = [], [], []
        for phone, item in zip(phones, result["items"], strict=True):
            outcome = item["update"]
            if outcome.get("error"):
                failed.append(phone)
            elif outcome.get("result") == "created":
                added.append(phone)
            else:
                updated.append(phone)
        if failed:
            # What did land is mirrored below; the rest is reported, never silently lost.
            log.error("DNC bulk add: %d numbers failed in OpenSearch", len(failed))
        self._mirror("add", workspace_id, added + updated)
        self._record(workspace_id, added, "added", reason, source, actor, None)
        self._record(workspace_id, updated, "updated", reason, source, actor, None)
        self._sync_contacts(workspace_id, added, True)
        if failed:
            raise ServiceUnavailable(f"{len(failed)} numbers could not be stored; retry the file.")
        return {"added": len(added), "updated": len(updated)}

    def remove(
        self,
        workspace_id: str,
        raw_phone: str,
        *,
        reason: str | None = None,
        actor: str = "",
        country: str | None = None,
        refresh: str | None = None,
    ) -> None:
        phone = canonical(raw_phone, (country or self.default_country).upper())
        if phone is None:
            raise NotFound("The number is not on this workspace's DNC list.")
        try:
            self.client.delete(
                index=self.names.write,
                id=self.doc_id(workspace_id, phone),
                routing=workspace_id,
                refresh=refresh or "false",
            )
        except NotFoundError:
            raise NotFound("The number is not on this workspace's DNC list.") from None
        self._mirror("remove", workspace_id, [phone])
        self._record(workspace_id, [phone], "removed", reason, None, actor, refresh)
        self._sync_contacts(workspace_id, [phone], False)

    def _record(self, workspace_id, phones, action, reason, source, actor, refresh) -> None:
        if not phones:
            return
        at = utc_now()
        actions: list[dict] = []
        for phone in phones:
            event_id = "dnch_" + secrets.token_urlsafe(12)
            actions.append({"index": {"_id": event_id, "routing": workspace_id}})
            actions.append(
                {
                    "id": event_id,
                    "workspaceId": workspace_id,
                    "phone": phone,
                    "action": action,
                    "reason": reason,
                    "source": source,
                    "actor": actor or None,
                    "at": at,
                }
            )
        self.client.bulk(index=self.history.write, body=actions, refresh=refresh or "false")

    def _sync_contacts(self, workspace_id: str, phones: list[str], listed: bool) -> None:
        """Keep the contacts' indexed `dnc` flag (the search filter) in step with the list."""
        for start in range(0, len(phones), 1_000):
            self.client.update_by_query(
                index=self.contacts.read,
                routing=workspace_id,
                conflicts="proceed",
                body={
                    "query": {
                        "bool": {
                            "filter": [
                                {"term": {"workspaceId": workspace_id}},
                                {"terms": {"phone": phones[start : start + 1_000]}},
                            ],
                            "must_not": [{"term": {"dnc": listed}}],
                        }
                    },
                    "script": {
                        "source": "ctx._source.dnc = params.dnc",
                        "lang": "painless",
                        "params": {"dnc": listed},
                    },
                },
            )

    def _mirror(self, op: str, workspace_id: str, phones: list[str]) -> None:
        """Apply a write that OpenSearch already holds to the cache.

        A failure here must not leave a trusted cache that lacks the change: the
        workspace's cache is invalidated, and if even that fails this process stops
        trusting it until it can invalidate it (see _trusted).
        """
        try:
            for start in range(0, len(phones), BUILD_BATCH):
                chunk = phones[start : start + BUILD_BATCH]
                self.cache.add(workspace_id, chunk) if op == "add" else self.cache.remove(
                    workspace_id, chunk
                )
            state = self.cache.state(workspace_id)
            if self.cache.is_full(state):
                self.schedule_build(workspace_id)
        except Exception:  # any cache failure: the record is written, distrust the cache
            log.warning("DNC cache write failed for %s; invalidating", workspace_id)
            already_suspect = workspace_id in self._suspect
            self._suspect.add(workspace_id)
            if not self._trusted(workspace_id) and not already_suspect:
                # Redis is unreachable: keep trying, so that other processes stop trusting
                # the stale cache as soon as Redis is back.
                threading.Thread(
                    target=self._invalidate_when_back, args=(workspace_id,), daemon=True
                ).start()

    def _invalidate_when_back(self, workspace_id: str) -> None:
        deadline = time.monotonic() + INVALIDATE_RETRY_SECONDS
        while workspace_id in self._suspect and time.monotonic() < deadline:
            if self._trusted(workspace_id):
                log.info("DNC cache of %s invalidated after a missed write", workspace_id)
                return
            time.sleep(0.25)
        if workspace_id in self._suspect:
            log.error(
                "DNC cache of %s may miss writes; run scripts/rebuild_dnc_cache.py", workspace_id
            )

    def _trusted(self, workspace_id: str) -> bool:
        if workspace_id not in self._suspect:
            return True
        try:
            self.cache.invalidate(workspace_id)
        except Exception:
            return False
        self._suspect.discard(workspace_id)
        return True

    # --- membership -----------------------------------------------------------------

    def contains(self, workspace_id: str, phones: Sequence[str]) -> tuple[list[bool], str]:
        """Listed flags for E.164 numbers and where they came from ("cache" or "opensearch")."""
        flags, source, _ = self._membership(workspace_id, phones)
        return flags, source

    def _membership(
        self, workspace_id: str, phones: Sequence[str]
    ) -> tuple[list[bool], str, dict[str, dict] | None]:
        """contains(), plus the entries when the answer came from OpenSearch."""
        flags = None
        redis_answered = False
        if self._trusted(workspace_id):
            try:
                flags = self.cache.contains_many(workspace_id, phones)
                redis_answered = True
            except Exception as exc:  # Redis down, timed out, or mid-rebuild: ask the record
                log.warning("DNC cache unavailable (%s); checking OpenSearch", type(exc).__name__)
        if flags is not None:
            return flags, "cache", None
        if redis_answered and self.lazy_build:
            self.schedule_build(workspace_id)
        entries = self.lookup(workspace_id, phones)
        return [phone in entries for phone in phones], "opensearch", entries

    def lookup(self, workspace_id: str, phones: Sequence[str]) -> dict[str, dict]:
        """Entries of the listed numbers among `phones`, real-time; 503 when unreachable."""
        unique = list(dict.fromkeys(phones))
        if not unique:
            return {}
        try:
            result = self.client.mget(
                index=self.names.read,
                body={
                    "docs": [
                        {"_id": self.doc_id(workspace_id, p), "routing": workspace_id}
                        for p in unique
                    ]
                },
                realtime=True,
            )
        except Exception as exc:  # unreachable, timed out or refusing: fail closed
            log.warning("DNC lookup failed: %s", type(exc).__name__)
            raise ServiceUnavailable(UNAVAILABLE) from exc
        entries = {}
        for doc in result["docs"]:
            if doc.get("error"):
                raise ServiceUnavailable(UNAVAILABLE)
            if doc.get("found"):
                entries[doc["_source"]["phone"]] = _entry(doc["_source"])
        return entries

    def check(self, workspace_id: str, raws: Sequence[str], country: str | None = None) -> dict:
        """Per number: normalized phone, validity, listed flag, reason and addedAt."""
        region = (country or self.default_country).upper()
        normalized = [canonical(raw, region) for raw in raws]
        valid = [p for p in normalized if p]
        if valid:
            flags, source, entries = self._membership(workspace_id, valid)
        else:  # nothing to look up: no round trip
            flags, source, entries = [], "cache", None
        listed_set = {p for p, flag in zip(valid, flags, strict=True) if flag}
        details: dict[str, dict] = entries or {}
        if listed_set and entries is None:
            try:  # reasons are a courtesy; the flag alone decides, so never fail on them
                details = self.lookup(workspace_id, sorted(listed_set))
            except ServiceUnavailable:
                details = {}
        results = []
        for raw, phone in zip(raws, normalized, strict=True):
            if phone is None:
                results.append(
                    {
                        "phone": raw,
                        "normalized": None,
                        "valid": False,
                        "dnc": False,
                        "reason": None,
                        "addedAt": None,
                    }
                )
                continue
            entry = details.get(phone) or {}
            results.append(
                {
                    "phone": raw,
                    "normalized": phone,
                    "valid": True,
                    "dnc": phone in listed_set,
                    "reason": entry.get("reason"),
                    "addedAt": entry.get("addedAt"),
                }
            )
        return {
            "data": results,
            "meta": {
                "source": source,
                "listed": sum(r["dnc"] for r in results),
                "invalid": sum(not r["valid"] for r in results),
            },
        }

    def flag_contacts(self, workspace_id: str, contacts: list[dict]) -> None:
        """The annotate hook of ContactService: `dnc` on a page of contacts, one call."""
        phones = list(dict.fromkeys(c["phone"] for c in contacts if c.get("phone")))
        flags, _ = self.contains(workspace_id, phones) if phones else ([], "cache")
        listed = {p for p, flag in zip(phones, flags, strict=True) if flag}
        for contact in contacts:
            contact["dnc"] = contact.get("phone") in listed

    # --- reads ----------------------------------------------------------------------

    def list_page(self, args: dict) -> dict:
        filters = [{"term": {"workspaceId": args["workspaceId"]}}]
        for field in ("reason", "source"):
            if args.get(field):
                filters.append({"term": {field: args[field]}})
        added = {}
        if args.get("addedAfter"):
            added["gte"] = args["addedAfter"].isoformat()
        if args.get("addedBefore"):
            added["lt"] = args["addedBefore"].isoformat()
        if added:
            filters.append({"range": {"addedAt": added}})
        hits, total = self._page(
            self.names.read, args, filters, [{"addedAt": "desc"}, {"phone": "desc"}]
        )
        return self._envelope([_entry(h) for h in hits], total, args)

    def history_page(self, args: dict) -> dict:
        filters = [{"term": {"workspaceId": args["workspaceId"]}}]
        if args.get("phone"):
            phone = canonical(args["phone"], (args.get("defaultCountry") or self.default_country))
            filters.append({"term": {"phone": phone or args["phone"]}})
        if args.get("action"):
            filters.append({"term": {"action": args["action"]}})
        hits, total = self._page(self.history.read, args, filters, [{"at": "desc"}, {"id": "desc"}])
        fields = ("id", "phone", "action", "reason", "source", "actor", "at")
        return self._envelope([{f: h.get(f) for f in fields} for h in hits], total, args)

    def _page(self, index: str, args: dict, filters: list, sort: list) -> tuple[list[dict], int]:
        if args["offset"] + args["limit"] > MAX_OFFSET_WINDOW:
            raise ValidationError(
                f"offset + limit may not exceed {MAX_OFFSET_WINDOW}.",
                details=[{"field": "offset", "message": "Narrow the filters to page deeper."}],
            )
        result = self.client.search(
            index=index,
            routing=args["workspaceId"],
            body={
                "query": {"bool": {"filter": filters}},
                "sort": sort,
                "from": args["offset"],
                "size": args["limit"],
                "track_total_hits": True,
            },
        )
        hits = [hit["_source"] for hit in result["hits"]["hits"]]
        return hits, result["hits"]["total"]["value"]

    @staticmethod
    def _envelope(data: list[dict], total: int, args: dict) -> dict:
        has_more = args["offset"] + len(data) < total
        return {"data": data, "meta": {"total": total, "hasMore": has_more}}

    # --- cache builds ----------------------------------------------------------------

    def schedule_build(self, workspace_id: str) -> None:
        """Build a workspace's cache in the background (one builder at a time, by lock).

        Every check of a not-yet-built workspace asks for a build; only the first in this
        process starts a thread, the rest find it pending.
        """
        with self._pending_lock:
            if workspace_id in self._pending_builds:
                return
            self._pending_builds.add(workspace_id)
        threading.Thread(
            target=self._build_quietly, args=(workspace_id,), daemon=True, name="dnc-build"
        ).start()

    def _build_quietly(self, workspace_id: str) -> None:
        try:
            self.rebuild(workspace_id)
        except Exception:
            log.exception("DNC cache build failed for %s", workspace_id)
        finally:
            with self._pending_lock:
                self._pending_builds.discard(workspace_id)

    def rebuild(self, workspace_id: str) -> dict | None:
        """Build a new cache generation from OpenSearch and make it live; None if busy."""
        token = secrets.token_hex(8)
        if not self.cache.acquire_build_lock(workspace_id, token, BUILD_LOCK_MS):
            return None
        try:
            filters = {"bool": {"filter": [{"term": {"workspaceId": workspace_id}}]}}
            count = self.client.count(
                index=self.names.read, routing=workspace_id, body={"query": filters}
            )["count"]
            layout = self.cache.begin_build(workspace_id, count)
            # Everything written before this point is read by the scan below; later
            # writes reach the new generation directly (see DncCache).
            self.client.indices.refresh(index=self.names.read)
            loaded = 0
            for batch in self._scan_phones(workspace_id, filters):
                loaded += self.cache.load(workspace_id, layout, batch)
            self.cache.finish_build(workspace_id, layout)
            log.info(
                "DNC cache for %s built: %d numbers, %d bits", workspace_id, loaded, layout.bits
            )
            return {"workspaceId": workspace_id, "numbers": loaded, "bits": layout.bits}
        finally:
            self.cache.release_build_lock(workspace_id, token)

    def _scan_phones(self, workspace_id: str, query: dict) -> Iterator[list[str]]:
        batch: list[str] = []
        hits = scan(
            self.client,
            index=self.names.read,
            routing=workspace_id,
            query={"query": query, "_source": ["phone"]},
            size=BUILD_BATCH,
            preserve_order=False,
        )
        for hit in hits:
            batch.append(hit["_source"]["phone"])
            if len(batch) >= BUILD_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def workspaces(self) -> Iterable[str]:
        """Every workspace that has a DNC list (for the rebuild script)."""
        result = self.client.search(
            index=self.names.read,
            body={
                "size": 0,
                "aggs": {"ws": {"terms": {"field": "workspaceId", "size": 100_000}}},
            },
        )
        return [b["key"] for b in result["aggregations"]["ws"]["buckets"]]
