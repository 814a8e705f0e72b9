"""DncRules: the record side of DNC rule entries (app/dnc/rules.py) for DncService.

Rule entries are prefix rules and exact entries that are scoped to a campaign, limited to
one channel or expiring. They share DncService's protocol (app/dnc/cache.py): a write
marks its match key, changes the record, then settles the cache; only then is it
acknowledged. Two things differ from a plain number:

- The record of a rule is found by a search (`matchKey` among a number's prefixes), not
  a real-time get, so a rule write refreshes the index before it is acknowledged: every
  check that asks the record after the acknowledgement sees the rule.
- Expiry. An entry stops matching when the check's clock passes `expiresAt` (the cache
  compares with Redis `TIME`; answers read from the record use this process's clock
  less CLOCK_GRACE_MS, erring towards "listed"). The reconciler's pass (`expire_due`)
  then removes expired entries through the same guarded removal, writes one "expired"
  history event per entry (its id is derived from the entry and its expiry, so a pass
  that runs twice writes it once) and clears the contacts' flags. Until that pass a
  contact's stored `dnc` flag may still say "listed" after the expiry: the safe
  direction, never "not listed" before it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opensearchpy import ConflictError, NotFoundError
from opensearchpy.helpers import scan

from app.dnc.rules import Rule, iso_of_ms, matches, prefixes, rule_of, specificity
from app.errors import NotFound, ServiceUnavailable
from app.search.documents import utc_now

if TYPE_CHECKING:
    from app.services.dnc import DncService

log = logging.getLogger(__name__)

# Answers read from the record treat entries as expiring this much later than their
# expiry, so a clock ahead of Redis's never ends an entry early.
CLOCK_GRACE_MS = 1_000
TERMS_CHUNK = 500  # numbers per record search: at most 15 prefixes each
SCAN_BATCH = 1_000
UNAVAILABLE = "Neither the DNC cache nor OpenSearch answered; no number may be called."


def rule_query(workspace_id: str) -> dict:
    """The workspace's rule entries: everything the intsets do not hold."""
    return {
        "bool": {
            "filter": [{"term": {"workspaceId": workspace_id}}],
            "should": [
                {"term": {"kind": "prefix"}},
                {"exists": {"field": "scope"}},
                {"exists": {"field": "expiresAt"}},
                {"terms": {"channel": ["calls", "sms"]}},
            ],
            "minimum_should_match": 1,
        }
    }


def rule_document(workspace_id: str, rule: Rule, reason, source, actor, now: str) -> dict:
    """The upsert of a rule entry: a new rule gets the full entry; a listed one keeps
    its addedAt and addedBy and takes the new reason, expiry (and source, when given)."""
    changes = {"reason": reason, "expiresAt": iso_of_ms(rule.expires_ms), "updatedAt": now}
    if source is not None:
        changes["source"] = source
    entry = {
        "workspaceId": workspace_id,
        "kind": rule.kind,
        "phone": rule.value if rule.kind == "exact" else None,
        "prefix": rule.value if rule.kind == "prefix" else None,
        "matchKey": rule.match_key,
        "scope": rule.scope or None,
        "channel": rule.channel,
        "expiresAt": iso_of_ms(rule.expires_ms),
        "reason": reason,
        "source": source,
        "addedBy": actor or None,
        "addedAt": now,
        "updatedAt": now,
    }
    return {"doc": changes, "upsert": entry}


def entry_of(source: dict) -> dict:
    """An entry as the API shows it."""
    rule = rule_of(source)
    return {
        "id": rule.doc_id(source["workspaceId"]),
        "workspaceId": source["workspaceId"],
        "rule": rule.kind,
        "phone": source.get("phone") if rule.kind == "exact" else None,
        "prefix": source.get("prefix") if rule.kind == "prefix" else None,
        "scope": rule.scope or None,
        "channel": rule.channel,
        "expiresAt": source.get("expiresAt"),
        "reason": source.get("reason"),
        "source": source.get("source"),
        "addedAt": source.get("addedAt"),
        "updatedAt": source.get("updatedAt"),
    }


def descriptors(docs: Sequence[dict]) -> dict[str, str]:
    """Rule entries as the cache files them: {match key: sorted descriptors}."""
    fields: dict[str, list[str]] = {}
    for doc in docs:
        rule = rule_of(doc)
        if not rule.in_intsets:
            fields.setdefault(rule.match_key, []).append(rule.descriptor)
    return {key: ";".join(sorted(values)) for key, values in fields.items()}


class DncRules:
    def __init__(self, dnc: DncService) -> None:
        self.dnc = dnc

    # --- writes -------------------------------------------------------------------

    def add(self, workspace_id: str, rule: Rule, reason, source, actor) -> tuple[dict, bool]:
        """List a rule entry; listing it again updates it. Returns (entry, existed)."""
        dnc = self.dnc
        mark = self._mark(workspace_id, rule)
        try:
            result = dnc.client.update(
                index=dnc.names.write,
                id=rule.doc_id(workspace_id),
                routing=workspace_id,
                body=rule_document(workspace_id, rule, reason, source, actor, utc_now()),
                retry_on_conflict=3,
                refresh="true",  # found by search: visible before the acknowledgement
                params={"_source": "true"},
            )
        except Exception as exc:
            # It may have landed: list it in the cache anyway and leave the mark.
            self._quietly(lambda: self._finish("add", workspace_id, rule, mark, keep=True))
            raise dnc.unconfirmed(exc) from exc
        existed = result["result"] != "created"
        self._finish("add", workspace_id, rule, mark)
        action = "updated" if existed else "added"
        dnc.after_rule_write(workspace_id, rule, action, reason, source, actor)
        return entry_of(result["get"]["_source"]), existed

    def remove(self, workspace_id: str, rule: Rule, reason, actor, *, expected=None) -> None:
        """Drop a rule entry (404 when it is not listed). `expected` (seq_no, term) makes
        the removal conditional: the expiry pass must not drop an entry renewed meanwhile."""
        dnc = self.dnc
        mark = self._mark(workspace_id, rule)
        extra = {"if_seq_no": expected[0], "if_primary_term": expected[1]} if expected else {}
        try:
            dnc.client.delete(
                index=dnc.names.write,
                id=rule.doc_id(workspace_id),
                routing=workspace_id,
                refresh="true",
                **extra,
            )
        except (NotFoundError, ConflictError) as exc:
            dnc.settle(workspace_id, ["+" + rule.match_key])  # the record decides, guarded
            if not rule.is_default_identity:  # its own guard: nothing left to settle
                guard = f"{rule.match_key}|{rule.identity}"
                dnc.cache.clear_rule_mark(workspace_id, guard, mark)
            if isinstance(exc, NotFoundError):
                raise NotFound("The entry is not on this workspace's DNC list.") from None
            raise
        except Exception as exc:  # the mark stays: checks ask the record until settled
            raise dnc.unconfirmed(exc) from exc
        self._finish("remove", workspace_id, rule, mark)
        action = "expired" if expected else "removed"
        dnc.after_rule_write(workspace_id, rule, action, reason, None, actor)

    def _mark(self, workspace_id: str, rule: Rule) -> str:
        try:
            return self.dnc.cache.mark_rule(workspace_id, rule.match_key, rule.identity)
        except Exception as exc:
            log.warning("DNC rule write refused, cache unreachable: %s", type(exc).__name__)
            raise ServiceUnavailable(self.dnc.not_marked) from exc

    def _finish(self, op: str, workspace_id: str, rule: Rule, mark: str, keep=False) -> None:
        """The descriptor, then (an exact workspace-wide all-channel entry) the intsets,
        whose guarded step settles the mark both share."""
        cache = self.dnc.cache
        try:
            default = rule.is_default_identity
            cache.finish_rule(
                op,
                workspace_id,
                rule.match_key,
                rule.identity,
                rule.descriptor,
                mark,
                keep_mark=keep or default,
            )
            if default and not keep:
                # An expiring entry leaves the intsets (its descriptor now lists it).
                cache.finish_remove(workspace_id, [rule.value], mark)
        except Exception as exc:
            log.warning("DNC rule not settled for %s: %s", workspace_id, type(exc).__name__)
            raise ServiceUnavailable(self.dnc.not_settled) from exc

    @staticmethod
    def _quietly(step) -> None:
        try:
            step()
        except Exception:
            log.warning("DNC cache unreachable on a failed rule write")

    def settle_fields(self, workspace_id: str, fields: Sequence[str]) -> None:
        """Set rule fields as the record has them, each only while no writer changed it
        meanwhile (DncService.settle and the reconciler's repair of the rules hash)."""
        if not fields:
            return
        cache = self.dnc.cache
        marks = {field: cache.mark_rule(workspace_id, field, None) for field in fields}
        self.dnc.client.indices.refresh(index=self.dnc.names.read)
        values = descriptors(self.docs_under(workspace_id, list(fields)))
        for field in fields:
            cache.finish_rule("set", workspace_id, field, "", values.get(field, ""), marks[field])

    # --- reads --------------------------------------------------------------------

    def docs_under(self, workspace_id: str, keys: Sequence[str]) -> list[dict]:
        """Rule entries filed under any of these match keys (the index is refreshed by
        every rule write before it is acknowledged)."""
        dnc = self.dnc
        query = rule_query(workspace_id)
        query["bool"]["filter"].append({"terms": {"matchKey": list(keys)}})
        try:
            result = dnc.client.search(
                index=dnc.names.read,
                routing=workspace_id,
                body={"query": query, "size": 10_000},
            )
        except Exception as exc:
            log.warning("DNC rule lookup failed: %s", type(exc).__name__)
            raise ServiceUnavailable(UNAVAILABLE) from exc
        return [hit["_source"] for hit in result["hits"]["hits"]]

    def record_matches(
        self, workspace_id: str, phones: Sequence[str], campaign: str, channel: str, now_ms=None
    ) -> dict[str, dict]:
        """The record's answer: {phone: the most specific matching entry} for the listed
        ones among `phones`; 503 when the record cannot answer."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000) - CLOCK_GRACE_MS
        phones = list(dict.fromkeys(phones))
        docs = list(self.dnc.lookup(workspace_id, phones).values())
        for start in range(0, len(phones), TERMS_CHUNK):
            keys = {key for p in phones[start : start + TERMS_CHUNK] for key in prefixes(p)}
            docs += self.docs_under(workspace_id, sorted(keys))
        return best_matches(docs, phones, campaign, channel, now_ms)

    def active_rules(self, workspace_id: str) -> list[Rule]:
        """The rule entries that set the contacts' flag (calls, workspace-wide), as the
        record holds them now (the reconciler's flag repair)."""
        self.dnc.client.indices.refresh(index=self.dnc.names.read)
        hits = scan(
            self.dnc.client,
            index=self.dnc.names.read,
            routing=workspace_id,
            query={"query": rule_query(workspace_id)},
            size=SCAN_BATCH,
            preserve_order=False,
        )
        rules = [rule_of(hit["_source"]) for hit in hits]
        return [rule for rule in rules if rule.blocks_calls_workspace_wide]

    # --- expiry -------------------------------------------------------------------

    def expire_due(self, workspace_id: str) -> int:
        """Remove the entries whose expiry has passed (by Redis's clock); returns how many."""
        dnc = self.dnc
        seconds, micros = dnc.cache.client.time()
        now = iso_of_ms(seconds * 1000 + micros // 1000)
        query = {
            "bool": {
                "filter": [
                    {"term": {"workspaceId": workspace_id}},
                    {"range": {"expiresAt": {"lte": now}}},
                ]
            }
        }
        dnc.client.indices.refresh(index=dnc.names.read)
        hits = scan(
            dnc.client,
            index=dnc.names.read,
            routing=workspace_id,
            query={"query": query, "seq_no_primary_term": True},
            size=SCAN_BATCH,
        )
        expired = 0
        for hit in hits:
            rule = rule_of(hit["_source"])
            try:
                self.remove(
                    workspace_id,
                    rule,
                    hit["_source"].get("reason"),
                    "dnc-expiry",
                    expected=(hit["_seq_no"], hit["_primary_term"]),
                )
                expired += 1
            except (NotFound, ConflictError):
                continue  # removed or renewed since the search: nothing expired
        return expired

    @staticmethod
    def expiry_event_id(workspace_id: str, rule: Rule) -> str:
        """One id per entry and expiry: the "expired" event is written once."""
        key = f"{rule.doc_id(workspace_id)}|{rule.expires_ms}"
        return "dnch_exp_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def best_matches(
    docs: Sequence[dict], phones: Sequence[str], campaign: str, channel: str, now_ms: int
) -> dict[str, dict]:
    """{phone: its most specific matching entry} over entries read from the record."""
    rules = [(rule_of(doc), doc) for doc in docs]
    found: dict[str, dict] = {}
    for phone in phones:
        hits = [(r, d) for r, d in rules if matches(r, phone, campaign, channel, now_ms)]
        if hits:
            found[phone] = max(hits, key=lambda pair: specificity(pair[0]))[1]
    return found
