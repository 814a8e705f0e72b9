"""DNC rules: what an entry covers, as pure functions (no I/O, no clock).

An entry is identified by its *rule* (an exact E.164 number, or an E.164 prefix such as
"+1201"), its *scope* ("" = the whole workspace, else one campaign or list name) and its
*channel* (calls, sms or all). Its expiry, reason and source are attributes: listing the
same rule again is an upsert that takes the new ones.

Document ids. The exact, workspace-wide, all-channel entry keeps today's id
`<ws>:<e164>` (existing clients and documents see no change). Every other rule gets
`<ws>:r:<digest>`, the digest of its identity, so adding it twice writes one document.

Where the cache keeps it (app/dnc/cache.py). An exact, workspace-wide, all-channel entry
without an expiry lives in the compact intsets; every other entry ("a rule entry") is a
*descriptor* `kind|scope|channel|expiresMs` (kind `e` exact or `p` prefix, expiresMs 0 =
never) in the generation's rules hash under its *match key*: the rule's digits. A check
walks the number's prefixes of the lengths present (at most 15 lookups) and a
descriptor matches when:

- kind `p`, or kind `e` and the match key is the whole number;
- its scope is "" (workspace-wide entries match every campaign) or the check's campaign;
- its channel is `all` or the check's channel;
- it has no expiry, or the expiry (ms) is later than the check's clock (Redis `TIME`).

`matches` below is the same rule for answers read from the record, and the Lua check
script mirrors it line for line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

CHANNELS = ("calls", "sms", "all")
KINDS = ("exact", "prefix")
# Scope names: letters, digits and _ . - only, so a descriptor's `|` and `;` stay
# separators and a scope is safe as a cache field and a search term.
SCOPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_SCOPE = re.compile(SCOPE_PATTERN, re.ASCII)


@dataclass(frozen=True)
class Rule:
    """One DNC rule's identity and expiry."""

    kind: str  # "exact" or "prefix"
    value: str  # ASCII E.164 number or prefix, with its "+"
    scope: str = ""  # "" = workspace-wide
    channel: str = "all"
    expires_ms: int = 0  # 0 = never

    @property
    def match_key(self) -> str:
        """The digits the cache and the record file the rule under."""
        return self.value[1:]

    @property
    def is_default_identity(self) -> bool:
        """Exact, workspace-wide, all channels: the seed's entry, id `<ws>:<e164>`."""
        return self.kind == "exact" and not self.scope and self.channel == "all"

    @property
    def in_intsets(self) -> bool:
        """Kept in the compact intsets (else a descriptor in the rules hash)."""
        return self.is_default_identity and not self.expires_ms

    @property
    def identity(self) -> str:
        return f"{self.kind[0]}|{self.scope}|{self.channel}"

    @property
    def descriptor(self) -> str:
        return f"{self.identity}|{self.expires_ms}"

    @property
    def blocks_calls_workspace_wide(self) -> bool:
        """Whether it sets the contacts' `dnc` flag ("listed for calls workspace-wide")."""
        return not self.scope and self.channel in ("calls", "all")

    def doc_id(self, workspace_id: str) -> str:
        if self.is_default_identity:
            return f"{workspace_id}:{self.value}"
        digest = hashlib.sha256(f"{self.kind}|{self.value}|{self.scope}|{self.channel}".encode())
        return f"{workspace_id}:r:{digest.hexdigest()[:32]}"


def valid_scope(scope: str) -> bool:
    return bool(_SCOPE.match(scope))


def rule_of(doc: dict) -> Rule:
    """The rule of a stored entry (documents written before rules are exact and
    workspace-wide for all channels)."""
    kind = doc.get("kind") or "exact"
    value = doc.get("prefix") if kind == "prefix" else doc.get("phone")
    return Rule(
        kind,
        value,
        doc.get("scope") or "",
        doc.get("channel") or "all",
        expires_ms(doc.get("expiresAt")),
    )


def expires_ms(value: str | None) -> int:
    """An entry's `expiresAt` (ISO 8601) as epoch milliseconds; 0 when it never expires."""
    if not value:
        return 0
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def iso_of_ms(ms: int) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def prefixes(e164: str) -> list[str]:
    """Every match key that could cover a number: its digits' prefixes, shortest first."""
    digits = e164[1:]
    return [digits[:size] for size in range(1, len(digits) + 1)]


def matches(rule: Rule, e164: str, campaign: str, channel: str, now_ms: int) -> bool:
    """Whether `rule` lists `e164` for a check of (campaign, channel) at `now_ms`."""
    if rule.kind == "exact" and rule.value != e164:
        return False
    if rule.kind == "prefix" and not e164.startswith(rule.value):
        return False
    if rule.scope and rule.scope != campaign:
        return False
    if rule.channel != "all" and rule.channel != channel:
        return False
    return not rule.expires_ms or rule.expires_ms > now_ms


def specificity(rule: Rule) -> tuple:
    """Order of preference among matching rules when one is reported as the evidence:
    exact before prefix, longer prefix first, scoped before workspace-wide, one channel
    before all, and a permanent entry before an expiring one."""
    return (
        rule.kind == "exact",
        len(rule.value),
        bool(rule.scope),
        rule.channel != "all",
        rule.expires_ms == 0,
    )


def merge_descriptors(current: str | None, identity: str, descriptor: str | None) -> str:
    """A rules-hash value with `identity`'s descriptor replaced (or dropped when None)."""
    kept = [d for d in (current or "").split(";") if d and not d.startswith(identity + "|")]
    if descriptor:
        kept.append(descriptor)
    return ";".join(sorted(kept))
