"""CallingWindowService: may a number be called now, and when next, under the workspace's policy.

For each phone: E.164 through the one normalizer (app/phones.py; an invalid number is
answered per item with its `validationErrors`, never allowed), where it rings
(app/calling/regions.py), the rules that apply there (app/calling/rules.py), and the
verdict in every zone (app/calling/windows.py) of those rules folded into one
(`intersect`), the most restrictive winning.

The Do-Not-Call list is consulted too: a listed number is never `allowed`, whatever the
clock says, and one the list cannot answer for (both its stores down) is not allowed
either (`dnc: null`), so this answer can never read as "callable" for a listed number.

The policy is the workspace's stored one (app/calling/policies.py), else the configured
default (the TCPA window, 08:00-21:00 every day). Phones that share their zones, country
and subdivision share one computation within a request: a batch of 1,000 numbers from
one area code costs one window search, not 1,000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from app.calling.policies import PolicyStore, StoredPolicy
from app.calling.regions import load_zone, locate
from app.calling.rules import Rule, Window, default_policy, intersect, rules_for
from app.calling.windows import Verdict, next_allowed, verdict
from app.errors import NotFound, ServiceUnavailable
from app.phones import to_e164, validation_errors
from app.search.documents import utc_now
from app.services.contact_rules import parse_etag
from app.services.contacts import ContactService

INVALID_NUMBER = "invalid_number"
DNC_LISTED, DNC_UNKNOWN = "dnc_listed", "dnc_unknown"
UNKNOWN_TIMEZONE = "unknown_timezone"
NONE_WITHIN_HORIZON = "none_within_horizon"


def iso_utc(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def contact_phones(contact: dict) -> list[str]:
    """The contact's numbers: its primary `phone`, then any `phones[].number`, once each."""
    numbers = [contact.get("phone")]
    numbers += [p.get("number") for p in contact.get("phones") or () if isinstance(p, dict)]
    return list(dict.fromkeys(n for n in numbers if isinstance(n, str) and n))


class CallingWindowService:
    def __init__(
        self,
        client,
        index_prefix: str,
        contacts: ContactService,
        *,
        dnc_listed: Callable[[str, Sequence[str], str], list[bool]],
        default_country: str = "US",
        default_window: dict | None = None,
        horizon_days: int = 14,
    ) -> None:
        self.store = PolicyStore(client, index_prefix)
        self.contacts = contacts
        # Listed flags of E.164 numbers (DncService.contains); ServiceUnavailable when
        # neither the cache nor the record answers.
        self.dnc_listed = dnc_listed
        self.default_country = default_country
        self.default_policy = default_policy(default_window)
        Window.parse(self.default_policy["window"])  # a bad configured window fails at start
        if not 1 <= horizon_days <= 366:
            raise ValueError("CALLING_WINDOW_HORIZON_DAYS must be 1 to 366.")
        self.horizon = timedelta(days=horizon_days)

    # --- policy -----------------------------------------------------------------

    def policy(self, workspace_id: str) -> tuple[dict, str | None]:
        """The workspace's policy as the API shows it, and its ETag (None: the default)."""
        stored = self.store.get(workspace_id)
        return self._shown(workspace_id, stored), stored.etag if stored else None

    def put_policy(
        self,
        workspace_id: str,
        policy: dict,
        *,
        actor: str | None,
        if_match: str | None = None,
        refresh: str | None = None,
    ) -> tuple[dict, str]:
        """Replace the workspace's policy (validated by the schema); If-Match guards it."""
        stored = self.store.put(
            workspace_id,
            {**self.default_policy, **policy},
            updated_at=utc_now(),
            updated_by=actor,
            expected=parse_etag(if_match),
            refresh=refresh,
        )
        return self._shown(workspace_id, stored), stored.etag

    def _shown(self, workspace_id: str, stored: StoredPolicy | None) -> dict:
        if stored is None:
            return {"workspaceId": workspace_id, **self.default_policy, "source": "default"}
        return {
            "workspaceId": workspace_id,
            **stored.policy,
            "source": "workspace",
            "updatedAt": stored.updated_at,
            "updatedBy": stored.updated_by,
        }

    # --- evaluation -------------------------------------------------------------

    def evaluate(
        self,
        workspace_id: str,
        phones: Sequence[str],
        *,
        at: datetime | None = None,
        default_country: str | None = None,
        campaign: str | None = None,
    ) -> dict:
        """Each phone's verdict at `at` (default: now), in the order given; `campaign`'s
        DNC entries bar numbers as well as the workspace-wide ones."""
        stored = self.store.get(workspace_id)
        instant = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        answers = self._answers(phones, stored, instant, default_country or self.default_country)
        self._gate_on_dnc(workspace_id, answers, campaign or "")
        return {"data": answers, "meta": self._meta(stored, instant)}

    def _gate_on_dnc(self, workspace_id: str, answers: list[dict], campaign: str) -> None:
        """`dnc` on every answer; listed or undecided numbers are not allowed at any time."""
        numbers = list(dict.fromkeys(a["normalized"] for a in answers if a["isValid"]))
        try:
            flags = self.dnc_listed(workspace_id, numbers, campaign) if numbers else []
        except ServiceUnavailable:
            flags = [None] * len(numbers)
        listed = dict(zip(numbers, flags, strict=True))
        for answer in answers:
            answer["dnc"] = listed.get(answer["normalized"]) if answer["isValid"] else None
            if answer["isValid"] and answer["dnc"] is not False:
                reason = DNC_LISTED if answer["dnc"] else DNC_UNKNOWN
                answer.update(
                    allowed=False,
                    reason=reason,
                    nextAllowedAt=None,
                    nextAllowedReason=reason,
                    allowedUntil=None,
                )

    def for_contact(
        self,
        contact_id: str,
        workspaces: Iterable[str],
        workspace_id: str,
        *,
        at: datetime | None = None,
        campaign: str | None = None,
    ) -> dict:
        """The verdict for every number of a contact the token may read (404 otherwise)."""
        contact = self.contacts.get(contact_id, workspaces, annotate=False).contact
        if contact["workspaceId"] != workspace_id:
            raise NotFound()
        result = self.evaluate(workspace_id, contact_phones(contact), at=at, campaign=campaign)
        phones = {"contactId": contact_id, "workspaceId": workspace_id, "phones": result["data"]}
        return {"data": phones, "meta": result["meta"]}

    def _meta(self, stored: StoredPolicy | None, instant: datetime) -> dict:
        return {
            "evaluatedAt": iso_utc(instant),
            "policySource": "workspace" if stored else "default",
            "policyUpdatedAt": stored.updated_at if stored else None,
            "horizonDays": self.horizon.days,
        }

    def _answers(
        self, phones: Sequence[str], stored: StoredPolicy | None, instant: datetime, country: str
    ) -> list[dict]:
        policy = stored.policy if stored else self.default_policy
        judged: dict[tuple, tuple[list[Rule], list[dict], Verdict]] = {}
        answers = []
        for raw in phones:
            # The checks' fast path: validity and E.164 only; the reasons only when invalid.
            e164 = to_e164(raw, country)
            if e164 is None:
                errors = validation_errors(raw, country)
                answers.append({**_invalid(raw, errors), **_unplaceable(INVALID_NUMBER)})
                continue
            where = locate(e164)
            answer = {
                "original": raw,
                "normalized": e164,
                "isValid": True,
                "validationErrors": [],
                "countryCode": where.country,
            }
            key = (where.zones, where.country, where.subdivisions)
            if key not in judged:
                rules = rules_for(policy, where.country, where.subdivisions)
                judged[key] = (rules, *self._judge(where.zones, rules, instant))
            rules, zones, overall = judged[key]
            answers.append(
                {
                    **answer,
                    "regionLabel": where.label,
                    "subdivisions": list(where.subdivisions),
                    "timezoneSource": where.zone_source,
                    "policyRules": [rule.name for rule in rules],
                    "timezones": zones,
                    **_verdict_fields(overall, no_zone=not where.zones),
                }
            )
        return answers

    def _judge(
        self, names: Sequence[str], rules: Sequence[Rule], instant: datetime
    ) -> tuple[list[dict], Verdict]:
        """Per-zone verdicts and the most restrictive one over all of them."""
        if not names:
            return [], Verdict(False, UNKNOWN_TIMEZONE, None)
        # In one zone every rule reads the same local time: their intersection is exact.
        rule = intersect(rules)
        pairs = [(load_zone(name), rule) for name in names]
        verdicts = [verdict(instant, [pair], self.horizon) for pair in pairs]
        zones = [
            {
                "zone": name,
                "localTime": instant.astimezone(zone).isoformat(timespec="seconds"),
                "allowed": answer.allowed,
                "reason": answer.reason,
                "nextAllowedAt": iso_utc(answer.next_allowed_at),
                "allowedUntil": iso_utc(answer.allowed_until),
            }
            for name, (zone, _), answer in zip(names, pairs, verdicts, strict=True)
        ]
        if all(v.allowed for v in verdicts):
            # The first zone to close closes the number: refusals add up across zones.
            closes = [v.allowed_until for v in verdicts if v.allowed_until]
            return zones, Verdict(True, None, instant, min(closes, default=None))
        reason = next(v.reason for v in verdicts if not v.allowed)
        starts = [v.next_allowed_at for v in verdicts]
        if any(start is None for start in starts):
            return zones, Verdict(False, reason, None)
        # No instant before the latest zone's own next start can suit every zone.
        start = next_allowed(instant, pairs, self.horizon, not_before=max(starts))
        return zones, Verdict(False, reason, start)


def _verdict_fields(overall: Verdict, *, no_zone: bool) -> dict:
    missing = None
    if overall.next_allowed_at is None:
        missing = UNKNOWN_TIMEZONE if no_zone else NONE_WITHIN_HORIZON
    return {
        "allowed": overall.allowed,
        "reason": overall.reason,
        "nextAllowedAt": iso_utc(overall.next_allowed_at),
        "nextAllowedReason": missing,
        "allowedUntil": iso_utc(overall.allowed_until),
    }


def _invalid(raw: str, errors: list[str]) -> dict:
    fields = {"normalized": None, "isValid": False, "countryCode": None}
    return {"original": raw, **fields, "validationErrors": errors}


def _unplaceable(reason: str) -> dict:
    return {
        "regionLabel": None,
        "subdivisions": [],
        "timezoneSource": "none",
        "policyRules": [],
        "timezones": [],
        "allowed": False,
        "reason": reason,
        "nextAllowedAt": None,
        "nextAllowedReason": reason,
        "allowedUntil": None,
    }
