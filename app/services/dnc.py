"""DncService: the per-workspace Do-Not-Call list.

OpenSearch (`dnc` index, one document per workspace and number, id `<ws>:<e164>`) is
the record; every change is also kept in `dnc_history`. Redis holds the membership
cache (app/dnc/cache.py, which states the protocol and its trust rules).

A write marks its numbers in Redis, changes the record, then settles the cache; it is
acknowledged only when all three and the contacts' indexed flags are done. When Redis
cannot take the mark, nothing is written and the caller gets a 503: an acknowledged
add must reach every reader, and readers trust the cache. Checks read the cache and
ask the record (a real-time multi-get) for whatever the cache may not answer; when
neither answers the caller gets a 503, never "not listed". The reconciler
(`reconcile`) settles marks left behind, compares cache and record and repairs both
the cache and the contacts' flags.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import redis
from opensearchpy import NotFoundError, OpenSearch
from opensearchpy.helpers import scan

from app.contact_methods import flag_numbers, numbers_of
from app.dnc import DncCache
from app.dnc.cache import new_mark
from app.dnc.rules import Rule, iso_of_ms, rule_of
from app.errors import ApiError, NotFound, ServiceUnavailable, ValidationError
from app.locks import RenewableLock
from app.phones import canonical, e164_prefix, normalize
from app.search.documents import utc_now
from app.search.indices import IndexNames
from app.services.dnc_checks import DncChecks
from app.services.dnc_flags import DncFlags
from app.services.dnc_rules import (
    DncRules,
    descriptors,
    entry_of,
    rule_document,
    rule_query,
)
from app.services.paging import require_window

log = logging.getLogger(__name__)

BUILD_BATCH = 5_000
# A build renews its lock; one that died frees it within this many seconds.
BUILD_LOCK_SECONDS = 30
UNAVAILABLE = "Neither the DNC cache nor OpenSearch answered; no number may be called."
NOT_MARKED = "The DNC list cannot change while its cache is unreachable; nothing was written."
NOT_SETTLED = "The change may be recorded but is not confirmed; retry the same request."
SETTLE_BATCH = 1_000
# One writer of a workspace's indexed flags at a time (DncService.flags_lock).
FLAGS_LOCK_SECONDS = 30
FLAGS_LOCK_WAIT_SECONDS = 20
FLAGS_BUSY = "Another change of this DNC list is updating its contacts; retry the request."


def upsert_body(
    workspace_id: str, phone: str, reason: str | None, source: str | None, actor: str, now: str
) -> dict:
    """The one upsert of a plain entry (exact, workspace-wide, all channels, no expiry):
    the rule entries' upsert (app/services/dnc_rules.py) for the seed's kind of entry."""
    return rule_document(workspace_id, Rule("exact", phone), reason, source, actor, now)


def _entry(source: dict) -> dict:
    return entry_of(source)


def _unconfirmed(exc: Exception) -> ApiError:
    """A failure after the mark: the write may or may not have landed; the client retries."""
    return exc if isinstance(exc, ApiError) else ServiceUnavailable(NOT_SETTLED)


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
        on_change: Callable[[str, dict], None] | None = None,
    ) -> None:
        self.client = client
        # The change feed's hook (app/services/changes.py): listed/removed numbers by action.
        self.on_change = on_change or (lambda workspace_id, events: None)
        self.names = IndexNames(index_prefix, "dnc")
        self.history = IndexNames(index_prefix, "dnc_history")
        self.contacts = IndexNames(index_prefix, "contacts")
        self.cache = DncCache(cache_client, key_prefix, bucket_target)
        self.default_country = default_country
        self.lazy_build = lazy_build
        self._pending_builds: set[str] = set()
        self._pending_lock = threading.Lock()
        # Rule entries, checks and the contacts' flags under rules, in their own modules.
        self.rules = DncRules(self)
        self.checks = DncChecks(self)
        self.flags = DncFlags(self)
        self.not_marked, self.not_settled = NOT_MARKED, NOT_SETTLED
        self.unconfirmed = _unconfirmed

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

    @staticmethod
    def expiry_or_400(expires_at: datetime | None) -> int:
        """An expiry as epoch ms (0: none); it must lie in the future."""
        if expires_at is None:
            return 0
        expires_ms = int(expires_at.timestamp() * 1000)
        if expires_ms <= int(time.time() * 1000):
            message = "Must be in the future (ISO 8601 UTC)."
            raise ValidationError(details=[{"field": "expiresAt", "message": message}])
        return expires_ms

    def rule_or_400(
        self,
        raw: str,
        kind: str = "exact",
        scope: str | None = None,
        channel: str | None = None,
        expires_ms: int = 0,
        country: str | None = None,
    ) -> Rule:
        """The rule an add or a removal names (app/dnc/rules.py); 400 when it names none."""
        if kind == "prefix":
            value = e164_prefix(raw)
            if value is None:
                message = "Not an E.164 prefix: '+', a known country code, 1-14 digits in all."
                raise ValidationError(details=[{"field": "prefix", "message": message}])
        else:
            value = self.phone_or_400(raw, country)
        return Rule(kind, value, scope or "", channel or "all", expires_ms)

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
        kind: str = "exact",
        scope: str | None = None,
        channel: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[dict, bool]:
        """List a number, or a rule (a prefix, a campaign's or one channel's entry, an
        expiring one: app/dnc/rules.py); listing it again updates the reason and the
        expiry. Returns (entry, existed)."""
        expires_ms = self.expiry_or_400(expires_at)
        rule = self.rule_or_400(raw_phone, kind, scope, channel, expires_ms, country)
        if not rule.in_intsets:
            return self.rules.add(workspace_id, rule, reason, source, actor)
        phone = rule.value
        mark = self._mark(workspace_id, [phone])
        try:
            result = self.client.update(
                index=self.names.write,
                id=self.doc_id(workspace_id, phone),
                routing=workspace_id,
                body=upsert_body(workspace_id, phone, reason, source, actor, utc_now()),
                retry_on_conflict=3,
                refresh=refresh or "false",
                params={"_source": "true"},
            )
        except Exception as exc:
            # The upsert may have landed with its reply lost: the cache lists the number
            # anyway (erring towards "listed"); the mark stays for the reconciler.
            self._settle_quietly(workspace_id, [phone])
            raise _unconfirmed(exc) from exc
        document = result["get"]["_source"]
        existed = result["result"] != "created"
        self._finish("add", workspace_id, [phone], mark)
        action = "updated" if existed else "added"
        self._after_write(workspace_id, {action: [phone]}, reason, source, actor, refresh)
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
            actions.append(upsert_body(workspace_id, phone, reason, source, actor, now))
        mark = self._mark(workspace_id, None)
        try:
            result = self.client.bulk(index=self.names.write, body=actions, refresh="false")
        except Exception as exc:
            # Some of the batch may have landed: the cache lists all of it (fail closed);
            # the bulk mark stays until the reconciler has compared cache and record.
            self._settle_quietly(workspace_id, phones)
            raise _unconfirmed(exc) from exc
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
            # Listed in the cache all the same (fail closed); reported, never silently lost.
            log.error("DNC bulk add: %d numbers failed in OpenSearch", len(failed))
            self._settle_quietly(workspace_id, phones)
            raise ServiceUnavailable(f"{len(failed)} numbers could not be stored; retry the file.")
        self._finish("add", workspace_id, phones, mark)
        events = {"added": added, "updated": updated}
        self._after_write(workspace_id, events, reason, source, actor, None)
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
        kind: str = "exact",
        scope: str | None = None,
        channel: str | None = None,
    ) -> None:
        """Drop a number's entry (or a rule's: `kind`, `scope`, `channel`); 404 when it
        is not listed."""
        if kind == "prefix":
            value = e164_prefix(raw_phone)
        else:
            value = canonical(raw_phone, (country or self.default_country).upper())
        if value is None:
            raise NotFound("The entry is not on this workspace's DNC list.")
        rule = Rule(kind, value, scope or "", channel or "all")
        if not rule.is_default_identity:
            return self.rules.remove(workspace_id, rule, reason, actor)
        phone = rule.value
        mark = self._mark(workspace_id, [phone])
        try:
            self.client.delete(
                index=self.names.write,
                id=self.doc_id(workspace_id, phone),
                routing=workspace_id,
                refresh=refresh or "false",
            )
        except NotFoundError:
            self._finish("remove", workspace_id, [phone], mark)
            raise NotFound("The number is not on this workspace's DNC list.") from None
        except Exception as exc:  # the mark stays: checks ask the record until it is settled
            raise _unconfirmed(exc) from exc
        try:  # the entry may have carried an expiry: its descriptor goes too (guarded)
            self.cache.finish_rule(
                "remove", workspace_id, rule.match_key, rule.identity, "", mark, keep_mark=True
            )
        except Exception as exc:
            raise ServiceUnavailable(NOT_SETTLED) from exc
        self._finish("remove", workspace_id, [phone], mark)
        self._after_write(workspace_id, {"removed": [phone]}, reason, None, actor, refresh)

    def _after_write(self, workspace_id, events, reason, source, actor, refresh) -> None:
        """History (one bulk) and the contacts' indexed flags (one sync), before the write
        is acknowledged. `events` maps an action to its numbers: one call either lists
        numbers (added, updated) or removes them."""
        phones = [phone for numbers in events.values() for phone in numbers]
        if not phones:
            return
        try:
            self._record(workspace_id, events, reason, source, actor, refresh)
            self.cache.bump_version(workspace_id, len(phones))
            if "removed" in events:  # a prefix rule may still list it: its flag stays
                self.flags.clear(workspace_id, phones)
            else:
                self.sync_contacts(workspace_id, phones, True)
            self.on_change(workspace_id, events)
        except Exception as exc:
            raise _unconfirmed(exc) from exc

    def after_rule_write(self, workspace_id, rule: Rule, action, reason, source, actor):
        """A rule entry's history event, the list's version and the contacts' flags,
        before the write is acknowledged."""
        try:
            self._record(workspace_id, {action: [rule]}, reason, source, actor, None)
            self.cache.bump_version(workspace_id, 1)
            if action in ("added", "updated"):
                self.flags.flag_rule(workspace_id, rule)
            if action in ("removed", "expired"):  # an update keeps the rule's coverage
                self.flags.unflag(workspace_id, rule)
            self.on_change(workspace_id, {action: [rule]})
        except Exception as exc:
            raise _unconfirmed(exc) from exc

    def not_listed(self, workspace_id: str, phones: Sequence[str]) -> list[str]:
        """The numbers among `phones` no entry lists for calls workspace-wide (503 when
        the list cannot say: a contact's flag is never cleared on a guess)."""
        gone: list[str] = []
        for start in range(0, len(phones), SETTLE_BATCH):  # one short script call each
            chunk = list(phones[start : start + SETTLE_BATCH])
            flags = self.checks.membership(workspace_id, chunk).flags
            gone += [phone for phone, flag in zip(chunk, flags, strict=True) if not flag]
        return gone

    # --- the cache protocol (app/dnc/cache.py) ------------------------------------------

    def _mark(self, workspace_id: str, phones: list[str] | None) -> str:
        """Announce a write; when Redis cannot take it, nothing is written (503)."""
        try:
            if phones is None:
                return self.cache.mark_bulk(workspace_id)
            return self.cache.mark(workspace_id, phones)
        except Exception as exc:
            log.warning("DNC write refused, cache unreachable: %s", type(exc).__name__)
            raise ServiceUnavailable(NOT_MARKED) from exc

    def _finish(self, op: str, workspace_id: str, phones: list[str], mark: str) -> None:
        """Settle the cache after the record changed; 503 when it cannot be confirmed
        (the mark stays, so checks keep asking the record)."""
        try:
            for start in range(0, len(phones), BUILD_BATCH):
                chunk = phones[start : start + BUILD_BATCH]
                if op == "remove":
                    self.cache.finish_remove(workspace_id, chunk, mark)
                elif start + BUILD_BATCH < len(phones):
                    # Not the last chunk: a bulk write's mark must outlive it.
                    self.cache.finish_add(workspace_id, chunk, new_mark())
                else:
                    self.cache.finish_add(workspace_id, chunk, mark)
            if self.cache.is_full(self.cache.state(workspace_id)):
                self.schedule_build(workspace_id)
        except Exception as exc:
            log.warning("DNC cache not settled for %s: %s", workspace_id, type(exc).__name__)
            raise ServiceUnavailable(NOT_SETTLED) from exc

    def _settle_quietly(self, workspace_id: str, phones: list[str]) -> None:
        """Best effort on a failure path: list the numbers in the cache and leave a mark
        on each, so checks ask the record until the reconciler has settled them."""
        try:
            for start in range(0, len(phones), BUILD_BATCH):
                chunk = phones[start : start + BUILD_BATCH]
                self.cache.finish_add(workspace_id, chunk, new_mark())
                self.cache.mark(workspace_id, chunk)
        except Exception:
            log.warning("DNC cache unreachable on a failed write of %s", workspace_id)

    def settle(self, workspace_id: str, phones: Sequence[str]) -> dict:
        """Make the cache follow the record for these numbers, safely against writers.

        Marks them, reads the record in real time, then lists the ones it holds and
        removes the others only while the mark is still ours (see app/dnc/cache.py).
        """
        phones = list(dict.fromkeys(phones))
        listed, absent = [], []
        for start in range(0, len(phones), SETTLE_BATCH):
            chunk = phones[start : start + SETTLE_BATCH]
            mark = self.cache.mark(workspace_id, chunk)
            entries = self.lookup(workspace_id, chunk)
            held = [p for p in chunk if p in entries and rule_of(entries[p]).in_intsets]
            gone = [p for p in chunk if p not in held]
            self.rules.settle_fields(workspace_id, [p[1:] for p in chunk])
            if held:
                self.cache.finish_add(workspace_id, held, mark)
            if gone:
                self.cache.finish_remove(workspace_id, gone, mark)
            listed += held
            absent += gone
        return {"listed": listed, "absent": absent}

    def _record(self, workspace_id, events, reason, source, actor, refresh) -> None:
        at = utc_now()
        actions: list[dict] = []
        for action, item in ((a, p) for a, numbers in events.items() for p in numbers):
            rule = item if isinstance(item, Rule) else Rule("exact", item)
            event_id = "dnch_" + secrets.token_urlsafe(12)
            op = "index"
            if action == "expired":
                event_id, op = self.rules.expiry_event_id(workspace_id, rule), "create"
            actions.append({op: {"_id": event_id, "routing": workspace_id}})
            actions.append(
                {
                    "id": event_id,
                    "workspaceId": workspace_id,
                    "phone": rule.value if rule.kind == "exact" else None,
                    "entryId": rule.doc_id(workspace_id),
                    "rule": rule.kind,
                    "prefix": rule.value if rule.kind == "prefix" else None,
                    "scope": rule.scope or None,
                    "channel": rule.channel,
                    "expiresAt": iso_of_ms(rule.expires_ms),
                    "action": action,
                    "reason": reason,
                    "source": source,
                    "actor": actor or None,
                    "at": at,
                }
            )
        result = self.client.bulk(
            index=self.history.write, body=actions, refresh=refresh or "false"
        )
        failed = [
            item
            for item in result["items"]
            for outcome in item.values()
            if outcome.get("error") and outcome.get("status") != 409  # 409: written already
        ]
        if failed:
            raise ServiceUnavailable("The DNC history could not be written.")

    @contextmanager
    def flags_lock(self, workspace_id: str) -> Iterator[None]:
        """Hold the workspace's flag writers to one at a time.

        A removal decides which numbers no entry lists any more and clears their flags;
        an add writes its entry, then sets its flags. Were the add's flag update to land
        between the removal's decision (taken before the entry existed) and its clear,
        the clear would undo it and a `dnc: true` search would miss a number whose add
        was acknowledged. Under this lock the decision and the clear are one step: an
        add's update runs wholly before it (and the decision sees the entry) or after it.
        """
        key = self.cache.lock_key(workspace_id) + ":flags"
        lock = RenewableLock(self.cache.client, key, FLAGS_LOCK_SECONDS)
        deadline = time.monotonic() + FLAGS_LOCK_WAIT_SECONDS
        while not lock.acquire():
            if time.monotonic() > deadline:
                raise ServiceUnavailable(FLAGS_BUSY)
            time.sleep(0.01)
        try:
            yield
        finally:
            lock.release()

    def sync_contacts(self, workspace_id: str, phones: list[str], listed: bool) -> int:
        """sync_contacts_held under the workspace's flags lock."""
        with self.flags_lock(workspace_id):
            return self.sync_contacts_held(workspace_id, phones, listed)

    def sync_contacts_held(self, workspace_id: str, phones: list[str], listed: bool) -> int:
        """Set the contacts' indexed `dnc` flag (the search and export filter) for these
        numbers; returns how many contacts changed. The caller holds flags_lock.

        The refresh first makes every contact written before this point visible to the
        update; a contact written after it re-reads the list itself once written
        (ContactService.settle_dnc_flags), and a version conflict here means exactly
        such a write. Together no contact keeps a stale flag.
        """
        self.client.indices.refresh(index=self.contacts.write)
        changed = 0
        for start in range(0, len(phones), 1_000):
            chunk = phones[start : start + 1_000]
            # A contact is listed while any of its numbers is: a removal clears the flag
            # only of contacts whose other numbers are all unlisted.
            keep = [] if listed else self._listed_beside(workspace_id, chunk)
            result = self.client.update_by_query(
                index=self.contacts.read,
                routing=workspace_id,
                conflicts="proceed",
                # Searchable before the write is acknowledged: a `dnc` filter that begins
                # after the acknowledgement must see the new flag.
                refresh=True,
                body={
                    "query": {
                        "bool": {
                            "filter": [
                                {"term": {"workspaceId": workspace_id}},
                                holding_numbers(chunk),
                            ],
                            "must_not": [
                                {"term": {"dnc": listed}},
                                {"terms": {"phones.number": keep}},
                            ],
                        }
                    },
                    "script": {
                        "source": "ctx._source.dnc = params.dnc",
                        "lang": "painless",
                        "params": {"dnc": listed},
                    },
                },
            )
            changed += result.get("updated", 0)
            if result.get("failures"):
                raise ServiceUnavailable("The contacts' DNC flags could not be updated.")
            if not listed:
                # Another number of those contacts listed meanwhile, its own sync maybe
                # run before this one cleared the flag: flag them again.
                again = sorted(set(self._listed_beside(workspace_id, chunk)) - set(keep))
                if again:
                    changed += self.sync_contacts_held(workspace_id, again, True)
        return changed

    def _listed_beside(self, workspace_id: str, phones: list[str]) -> list[str]:
        """The listed numbers, other than `phones`, of the contacts holding any of them."""
        hits = scan(
            self.client,
            index=self.contacts.read,
            routing=workspace_id,
            query={
                "query": {
                    "bool": {
                        "filter": [{"term": {"workspaceId": workspace_id}}, holding_numbers(phones)]
                    }
                },
                "_source": ["phone", "phones.number"],
            },
            size=BUILD_BATCH,
            preserve_order=False,
        )
        others = sorted({n for h in hits for n in numbers_of(h["_source"])} - set(phones))
        flags, _ = self.contains(workspace_id, others) if others else ([], "cache")
        return [phone for phone, flag in zip(others, flags, strict=True) if flag]

    # --- membership -----------------------------------------------------------------

    def contains(
        self, workspace_id: str, phones: Sequence[str], campaign: str = ""
    ) -> tuple[list[bool], str]:
        """Listed flags for calls (workspace-wide entries, and `campaign`'s when given) for
        E.164 numbers and where they came from ("cache" or "opensearch"):
        app/services/dnc_checks.py."""
        found = self.checks.membership(workspace_id, phones, campaign)
        return found.flags, found.source

    def lookup(self, workspace_id: str, phones: Sequence[str]) -> dict[str, dict]:
        """The stored entries `<ws>:<e164>` of `phones` (exact, workspace-wide, all
        channels; maybe expiring), real-time; 503 when unreachable."""
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
                entries[doc["_source"]["phone"]] = doc["_source"]
        return entries

    def check(
        self,
        workspace_id: str,
        raws: Sequence[str],
        country: str | None = None,
        campaign: str | None = None,
        channel: str | None = None,
    ) -> dict:
        """Per number: listed or not, and the entry that matched (app/services/dnc_checks.py)."""
        return self.checks.check(workspace_id, raws, country, campaign, channel)

    def flag_contacts(self, workspace_id: str, contacts: list[dict]) -> None:
        """The annotate hook of ContactService: `dnc` on a page of contacts, one call.

        When neither the cache nor the record answers, `dnc` is null: unknown, never
        "callable".
        """
        phones = list(dict.fromkeys(p for c in contacts for p in numbers_of(c)))
        try:
            flags, _ = self.contains(workspace_id, phones) if phones else ([], "cache")
        except ServiceUnavailable:
            for contact in contacts:
                flag_numbers(contact, None)
            return
        listed = {p for p, flag in zip(phones, flags, strict=True) if flag}
        for contact in contacts:
            flag_numbers(contact, listed)

    # --- reads ----------------------------------------------------------------------

    def list_page(self, args: dict) -> dict:
        filters = [{"term": {"workspaceId": args["workspaceId"]}}]
        for field in ("reason", "source", "scope", "channel"):
            if args.get(field):
                filters.append({"term": {field: args[field]}})
        if args.get("rule") == "prefix":
            filters.append({"term": {"kind": "prefix"}})
        elif args.get("rule") == "exact":
            filters.append({"bool": {"must_not": [{"term": {"kind": "prefix"}}]}})
        added = {}
        if args.get("addedAfter"):
            added["gte"] = args["addedAfter"].isoformat()
        if args.get("addedBefore"):
            added["lt"] = args["addedBefore"].isoformat()
        if added:
            filters.append({"range": {"addedAt": added}})
        sort = [{"addedAt": "desc"}, {"matchKey": {"order": "desc", "unmapped_type": "keyword"}}]
        hits, total = self._page(self.names.read, args, filters, sort)
        return self._envelope([_entry(h) for h in hits], total, args)

    def history_page(self, args: dict) -> dict:
        filters = [{"term": {"workspaceId": args["workspaceId"]}}]
        if args.get("phone"):
            phone = canonical(args["phone"], (args.get("defaultCountry") or self.default_country))
            filters.append({"term": {"phone": phone or args["phone"]}})
        if args.get("action"):
            filters.append({"term": {"action": args["action"]}})
        hits, total = self._page(self.history.read, args, filters, [{"at": "desc"}, {"id": "desc"}])
        fields = (
            "id",
            "phone",
            "action",
            "reason",
            "source",
            "actor",
            "at",
            "entryId",
            "rule",
            "prefix",
            "scope",
            "channel",
            "expiresAt",
        )
        return self._envelope([{f: h.get(f) for f in fields} for h in hits], total, args)

    def _page(self, index: str, args: dict, filters: list, sort: list) -> tuple[list[dict], int]:
        require_window(args["offset"], args["limit"], cursors_page_deeper=False)
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
        lock = RenewableLock(
            self.cache.client, self.cache.lock_key(workspace_id), BUILD_LOCK_SECONDS
        )
        if not lock.acquire():
            return None
        try:
            filters = workspace_query(workspace_id)
            count = self.client.count(
                index=self.names.read, routing=workspace_id, body={"query": filters}
            )["count"]
            layout = self.cache.begin_build(workspace_id, count)
            # Everything written before this point is read by the scan below; later
            # writes reach the new generation directly (see DncCache).
            self.client.indices.refresh(index=self.names.read)
            loaded = 0
            for batch in self.scan_phones(workspace_id, filters):
                loaded += self.cache.load(workspace_id, layout, batch)
            loaded += self.cache.load_rules(workspace_id, layout, self.rule_fields(workspace_id))
            self.seed_version(workspace_id)  # before the flip: a check never reads it unset
            self.cache.finish_build(workspace_id, layout)
            log.info(
                "DNC cache for %s built: %d numbers, %d bits", workspace_id, loaded, layout.bits
            )
            return {"workspaceId": workspace_id, "numbers": loaded, "bits": layout.bits}
        finally:
            lock.release()

    def rule_fields(self, workspace_id: str) -> dict[str, str]:
        """Every rule entry of the record as the cache files it (app/dnc/rules.py)."""
        hits = scan(
            self.client,
            index=self.names.read,
            routing=workspace_id,
            query={"query": rule_query(workspace_id)},
            size=BUILD_BATCH,
            preserve_order=False,
        )
        return descriptors([hit["_source"] for hit in hits])

    def seed_version(self, workspace_id: str) -> None:
        """The list's version counts its history: restore it after Redis lost it."""
        self.client.indices.refresh(index=self.history.read)
        changes = self.client.count(
            index=self.history.read,
            routing=workspace_id,
            body={"query": {"term": {"workspaceId": workspace_id}}},
        )["count"]
        self.cache.seed_version(workspace_id, changes)

    def scan_phones(self, workspace_id: str, query: dict) -> Iterator[list[str]]:
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
        """Every workspace that has a DNC list or a DNC cache (rebuilds, reconciler)."""
        result = self.client.search(
            index=self.names.read,
            body={
                "size": 0,
                "aggs": {"ws": {"terms": {"field": "workspaceId", "size": 100_000}}},
            },
        )
        found = {b["key"] for b in result["aggregations"]["ws"]["buckets"]}
        found.update(self.cache.workspaces())
        return sorted(found)


def holding_numbers(phones: list[str]) -> dict:
    """Contacts holding any of these numbers (`phone` too: a document not yet reindexed
    has no `phones`)."""
    return {
        "bool": {
            "should": [{"terms": {"phones.number": phones}}, {"terms": {"phone": phones}}],
            "minimum_should_match": 1,
        }
    }


def workspace_query(workspace_id: str) -> dict:
    """The workspace's entries the intsets hold: exact, workspace-wide, all channels, no
    expiry (the rule entries are `rule_query`'s)."""
    return {
        "bool": {
            "filter": [{"term": {"workspaceId": workspace_id}}],
            "must_not": rule_query(workspace_id)["bool"]["should"],
        }
    }
