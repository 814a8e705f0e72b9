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

This module holds the service's writes (a number's add, a bulk add, a removal, and
the history event and flags each records before its acknowledgement) and its
membership reads. Its other responsibilities are classes of their own that it inherits,
one module each: the input checks (app/services/dnc_inputs.py), the cache protocol's
write steps (app/services/dnc_cache_writes.py), the contacts' flags for numbers' own
entries (app/services/dnc_contact_sync.py), the cache builds
(app/services/dnc_builds.py) and the list and history pages (app/services/dnc_pages.py).
Rule entries, checks and the flags under rules are collaborators it holds
(app/services/dnc_rules.py, dnc_checks.py, dnc_flags.py).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

import redis
from opensearchpy import NotFoundError, OpenSearch

from app.contact_methods import flag_numbers, numbers_of
from app.dnc import DncCache
from app.dnc.rules import Rule, iso_of_ms
from app.errors import ApiError, NotFound, ServiceUnavailable
from app.phones import canonical, e164_prefix
from app.search.documents import utc_now
from app.search.indices import IndexNames
from app.services.dnc_builds import DncBuilds
from app.services.dnc_cache_writes import NOT_MARKED, NOT_SETTLED, SETTLE_BATCH, DncCacheWrites
from app.services.dnc_checks import DncChecks
from app.services.dnc_contact_sync import FLAGS_LOCK_SECONDS, DncContactSync
from app.services.dnc_flags import DncFlags
from app.services.dnc_inputs import DncInputs
from app.services.dnc_pages import DncPages
from app.services.dnc_rules import UNAVAILABLE, DncRules, entry_of, rule_document

log = logging.getLogger(__name__)


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


class DncService(DncInputs, DncCacheWrites, DncContactSync, DncBuilds, DncPages):
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
        flags_lock_seconds: float = FLAGS_LOCK_SECONDS,
    ) -> None:
        self.client = client
        self.flags_lock_seconds = flags_lock_seconds
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
