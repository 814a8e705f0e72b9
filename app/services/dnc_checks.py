"""DncChecks: the answers a dialer acts on, for DncService.

A check asks the cache first (one script: the intsets, the rule entries, the marks, the
server's clock and the list's version; app/dnc/cache.py) and the record for whatever the
cache may not answer; when neither answers the caller gets a 503, never "not listed".

What a check covers. `channel` defaults to calls (the question a dialer asks) and
`campaign` to none: workspace-wide entries match every campaign, a campaign's entries
only checks that name it, and `all`-channel entries match every channel. The contacts'
`dnc` flag is the same question with no campaign: "listed for calls workspace-wide".

Evidence. A listed number's answer names the entry that matched (the most specific one:
app/dnc/rules.py `specificity`), read from the record after the flag was decided; it is
a courtesy, so a record that cannot answer leaves it null and never changes the flag.
Dialers check the same listed numbers again and again, and that read was most of a
listed number's check (docs/performance.md): `EntryMemo` keeps each process's reads of
plain numbers' entries under the cache stamp the check saw (app/dnc/cache.py, Stamps),
and serves one only to a check that sees the same stamp, so a write of any number of
the workspace retires them all. Flags never come from it.
`meta.version` counts the list's changes (app/dnc/cache.py; null when the cache did not
answer) and `meta.checkedAt` is the clock the expiry was compared with.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app import observability
from app.dnc.encoding import LISTED, PENDING
from app.dnc.rules import iso_of_ms
from app.errors import ServiceUnavailable
from app.phones import canonical_many, refused_reasons
from app.services.dnc_rules import CLOCK_GRACE_MS, entry_of

if TYPE_CHECKING:
    from app.services.dnc import DncService

log = logging.getLogger(__name__)

# Entries kept per process (about 1 KB each): the listed numbers dialers re-check most.
ENTRY_MEMO_SIZE = 20_000


# The two rows a batch is mostly made of; copied, then given the row's own values.
_CALLABLE_ROW = {
    "phone": None,
    "normalized": None,
    "valid": True,
    "dnc": False,
    "reason": None,
    "addedAt": None,
    "match": None,
}
_INVALID_ROW = {
    "phone": None,
    "normalized": None,
    "valid": False,
    "dnc": None,
    "reason": None,
    "addedAt": None,
    "match": None,
    "validationErrors": None,
}


def check_rows(
    raws: Sequence[str],
    normalized: Sequence[str | None],
    listed: set[str],
    details: dict[str, dict],
    region: str,
) -> tuple[list[dict], int, int]:
    """A check's rows in input order, and how many say listed and invalid.

    `normalized[i]` is `raws[i]`'s canonical form (None: refused), `listed` the numbers
    decided listed and `details` the record entries read for them. Built in one pass over
    the batch with each entry's shape worked out once per number, not once per row: a
    1,000-number check spent more time building rows than Redis spent answering them.
    tests/unit/test_dnc_check_rows.py holds it equal to the row-by-row build it replaced.
    """
    shown = {phone: entry_of(source) for phone, source in details.items()}
    special = listed | shown.keys()
    rows: list[dict] = []
    append = rows.append
    listed_rows = invalid_rows = 0
    for raw, phone in zip(raws, normalized, strict=True):
        if phone is None:
            invalid_rows += 1
            row = _INVALID_ROW.copy()  # a copy keeps the key order and costs half a literal
            row["phone"] = raw
            row["validationErrors"] = refused_reasons(raw, region)
            append(row)
        elif phone not in special:  # what almost every row is: valid, not listed
            row = _CALLABLE_ROW.copy()
            row["phone"] = raw
            row["normalized"] = phone
            append(row)
        else:
            is_listed = phone in listed
            listed_rows += is_listed
            entry = shown.get(phone)
            append(
                {
                    "phone": raw,
                    "normalized": phone,
                    "valid": True,
                    "dnc": is_listed,
                    "reason": entry["reason"] if entry else None,
                    "addedAt": entry["addedAt"] if entry else None,
                    "match": entry if is_listed else None,
                }
            )
    return rows, listed_rows, invalid_rows


class EntryMemo:
    """Plain numbers' record entries, each under the cache stamp it was read at."""

    def __init__(self, size: int = ENTRY_MEMO_SIZE) -> None:
        self.size = size
        self._items: dict[tuple[str, str], tuple[str, dict]] = {}
        self._lock = threading.Lock()

    def get_many(self, workspace_id: str, stamp: str, phones: Sequence[str]) -> dict[str, dict]:
        found = {}
        for phone in phones:
            item = self._items.get((workspace_id, phone))
            if item is not None and item[0] == stamp:
                found[phone] = item[1]
        return found

    def put_many(self, workspace_id: str, stamp: str, entries: dict[str, dict]) -> None:
        with self._lock:
            for phone, entry in entries.items():
                self._items.pop((workspace_id, phone), None)  # re-insert as the newest
                self._items[workspace_id, phone] = (stamp, entry)
            while len(self._items) > self.size:  # drop the oldest reads first
                del self._items[next(iter(self._items))]


class Membership:
    """Listed flags of E.164 numbers, where they came from, and what was read on the way."""

    def __init__(self, flags, source, entries, now_ms, version, rules, stamp="") -> None:
        self.flags: list[bool] = flags
        self.source: str = source  # "cache" or "opensearch"
        self.entries: dict[str, dict] | None = entries  # matches read from the record
        self.now_ms: int = now_ms
        self.version: int | None = version
        self.rules: bool = rules  # rule entries may exist (look them up for evidence)
        self.stamp: str = stamp  # the cache's stamp ("" when the cache did not answer)


class DncChecks:
    def __init__(self, dnc: DncService) -> None:
        self.dnc = dnc
        self.entries = EntryMemo()

    def membership(
        self, workspace_id: str, phones: Sequence[str], campaign: str = "", channel: str = "calls"
    ) -> Membership:
        dnc = self.dnc
        answer, redis_answered = None, False
        try:
            answer = dnc.cache.check_many(workspace_id, phones, campaign, channel)
            redis_answered = True
        except Exception as exc:  # Redis down, timed out, or mid-rebuild: ask the record
            log.warning("DNC cache unavailable (%s); checking OpenSearch", type(exc).__name__)
            observability.record_dnc_cache(errors=len(phones))
        if answer is None:
            if redis_answered:
                observability.record_dnc_cache(misses=len(phones))
                if dnc.lazy_build:
                    dnc.schedule_build(workspace_id)
            now_ms = int(time.time() * 1000)
            entries = dnc.rules.record_matches(
                workspace_id, phones, campaign, channel, now_ms - CLOCK_GRACE_MS
            )
            version = self._version_quietly(workspace_id) if redis_answered else None
            flags = [phone in entries for phone in phones]
            return Membership(flags, "opensearch", entries, now_ms, version, True)
        flags = answer.flags
        pending = [p for p, flag in zip(phones, flags, strict=True) if flag == PENDING]
        observability.record_dnc_cache(hits=len(phones) - len(pending), misses=len(pending))
        if not pending:
            listed = [flag == LISTED for flag in flags]
            return Membership(
                listed, "cache", None, answer.now_ms, answer.version, answer.rules, answer.stamp
            )
        # A write is in flight on these numbers: the record decides them.
        entries = dnc.rules.record_matches(
            workspace_id, pending, campaign, channel, answer.now_ms - CLOCK_GRACE_MS
        )
        listed = [
            flag == LISTED or (flag == PENDING and phone in entries)
            for phone, flag in zip(phones, flags, strict=True)
        ]
        return Membership(listed, "opensearch", entries, answer.now_ms, answer.version, True)

    def _version_quietly(self, workspace_id: str) -> int | None:
        try:
            return self.dnc.cache.version(workspace_id)
        except Exception:
            return None

    def check(
        self,
        workspace_id: str,
        raws: Sequence[str],
        country: str | None = None,
        campaign: str | None = None,
        channel: str | None = None,
    ) -> dict:
        """Per number: normalized phone, validity, listed flag and the matching entry.

        Input that is not a valid number cannot be decided: `dnc` is null (never false),
        `valid` false and `validationErrors` says why.
        """
        dnc = self.dnc
        campaign, channel = campaign or "", channel or "calls"
        region = (country or dnc.default_country).upper()
        normalized = canonical_many(raws, region)
        valid = list(dict.fromkeys(p for p in normalized if p))
        if valid:
            found = self.membership(workspace_id, valid, campaign, channel)
        else:  # nothing to look up: no round trip
            found = Membership([], "cache", None, int(time.time() * 1000), None, False)
        listed = {p for p, flag in zip(valid, found.flags, strict=True) if flag}
        details = dict(found.entries or {})
        unknown = sorted(listed - details.keys())
        if unknown:
            details.update(self._evidence(workspace_id, unknown, campaign, channel, found))
        rows, listed_rows, invalid_rows = check_rows(raws, normalized, listed, details, region)
        return {
            "data": rows,
            "meta": {
                "source": found.source,
                "listed": listed_rows,
                "invalid": invalid_rows,
                "campaign": campaign or None,
                "channel": channel,
                "version": found.version,
                "checkedAt": iso_of_ms(found.now_ms),
            },
        }

    def _evidence(self, workspace_id, phones, campaign, channel, found: Membership) -> dict:
        """The entries behind listed flags the cache decided (a courtesy: never fails)."""
        try:
            if not found.rules:  # no rule entries: the numbers' own entries
                return self._plain_entries(workspace_id, phones, found.stamp)
            return self.dnc.rules.record_matches(
                workspace_id, phones, campaign, channel, found.now_ms - CLOCK_GRACE_MS
            )
        except ServiceUnavailable:
            return {}

    def _plain_entries(self, workspace_id: str, phones: list[str], stamp: str) -> dict:
        """The numbers' own entries: remembered ones read under this stamp, the rest read
        from the record (real time) after the stamp was taken, and remembered under it."""
        known = self.entries.get_many(workspace_id, stamp, phones) if stamp else {}
        missing = [p for p in phones if p not in known]
        if missing:
            read = self.dnc.lookup(workspace_id, missing)
            if stamp:
                self.entries.put_many(workspace_id, stamp, read)
            known.update(read)
        return known
