"""Calling-window arithmetic: instants, zones and rules in, answers out (pure, no I/O).

A number's candidates are pairs (zone, rule): every zone it may ring in, times every
rule that may apply to it (app/calling/rules.py). Several candidates answer the most
restrictive way: an instant is allowed only when every pair allows it, and the next
permitted start is the earliest instant, within a bounded horizon, that all pairs allow.

Why candidates rather than stepping a clock: a pair's allowed time is a union of
half-open intervals, and each interval opens either where the local wall clock reaches a
day's window start or where the zone's UTC offset changes (a spring-forward gap that
swallows the start, a fall-back that repeats an hour). The earliest instant all pairs
allow is therefore the evaluation instant or one of those openings, so trying every
opening in the horizon in time order, and checking each against every pair, is exact.

DST, made explicit: a local start is mapped to UTC with both `fold`s, so a start inside
a repeated hour is tried at both of its occurrences; a start inside a gap does not exist
that day, and its true opening is the transition itself (local time jumps past the
start), which is among the openings because every offset change in the horizon is
(found by sampling the offset and bisecting to the second). Allowed-ness is always read
from the instant's own local time, never from arithmetic on wall times.

`allowed_until` is the mirror image: while a call may start, the first instant that a
pair refuses is a window's close, a local midnight (the next day may be a holiday, or
open later) or an offset change, and those are its candidates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.calling.rules import DAY_MINUTES, Rule

Pair = tuple[ZoneInfo, Rule]
# UTC offsets are sampled this often to find transitions: no zone changes its offset
# twice within six hours (tzdata's closest pairs are months apart).
SAMPLE = timedelta(hours=6)


@dataclass(frozen=True)
class Verdict:
    """Whether a call may start at an instant, why not, when it next may, and, while it
    may, when that stops (the first close within the horizon)."""

    allowed: bool
    reason: str | None
    next_allowed_at: datetime | None
    allowed_until: datetime | None = None


def refusal(instant: datetime, pairs: Sequence[Pair]) -> str | None:
    """The first pair's reason to refuse a call starting at `instant`, or None."""
    for zone, rule in pairs:
        reason = rule.refusal(instant.astimezone(zone))
        if reason:
            return reason
    return None


def verdict(instant: datetime, pairs: Sequence[Pair], horizon: timedelta) -> Verdict:
    """The most restrictive answer of all pairs at `instant` (an aware datetime).

    `next_allowed_at` is `instant` itself when a call may start now, None when no instant
    within `horizon` is allowed by every pair (or there are no pairs at all).
    """
    if not pairs:
        return Verdict(False, None, None)
    reason = refusal(instant, pairs)
    if reason is None:
        return Verdict(True, None, instant, allowed_until(instant, pairs, horizon))
    return Verdict(False, reason, next_allowed(instant, pairs, horizon))


def allowed_until(instant: datetime, pairs: Sequence[Pair], horizon: timedelta) -> datetime | None:
    """The first instant in (instant, instant + horizon] that some pair refuses, or None.

    The mirror of `next_allowed`: a refusal begins where a window closes, where a local
    day ends (the next may be a holiday, or open later), or where an offset changes.
    """
    limit = instant + horizon
    candidates = {c for zone, rule in pairs for c in closings(zone, rule, instant, limit)}
    for candidate in sorted(c for c in candidates if instant < c <= limit):
        if refusal(candidate, pairs) is not None:
            return candidate
    return None


def next_allowed(
    instant: datetime,
    pairs: Sequence[Pair],
    horizon: timedelta,
    *,
    not_before: datetime | None = None,
) -> datetime | None:
    """The earliest instant in [instant, instant + horizon] that every pair allows.

    `not_before` prunes the search when the caller already knows a lower bound (the
    latest of each zone's own next start: no instant before it is allowed by all).
    """
    limit = instant + horizon
    floor = max(instant, not_before) if not_before else instant
    candidates = {floor}
    for zone, rule in pairs:
        candidates.update(openings(zone, rule, floor, limit))
    for candidate in sorted(c for c in candidates if floor <= c <= limit):
        if refusal(candidate, pairs) is None:
            return candidate
    return None


def openings(zone: ZoneInfo, rule: Rule, start: datetime, limit: datetime) -> Iterator[datetime]:
    """Every instant in [start, limit] at which this pair's allowed time may begin."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = limit.astimezone(zone).date()
    while day <= last:
        window = rule.window_on(day)
        if window is not None:
            wall = datetime.combine(day, time(window.start // 60, window.start % 60))
            for fold in (0, 1):
                yield wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        day += timedelta(days=1)
    yield from transitions(zone, start, limit)


def closings(zone: ZoneInfo, rule: Rule, start: datetime, limit: datetime) -> Iterator[datetime]:
    """Every instant in [start, limit] at which this pair's allowed time may end."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = limit.astimezone(zone).date()
    while day <= last:
        ends = [datetime.combine(day, time())]  # midnight: the day before ends
        window = rule.window_on(day)
        if window is not None and window.end < DAY_MINUTES:
            ends.append(datetime.combine(day, time(window.end // 60, window.end % 60)))
        for wall in ends:
            for fold in (0, 1):
                yield wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        day += timedelta(days=1)
    yield from transitions(zone, start, limit)


def transitions(zone: ZoneInfo, start: datetime, limit: datetime) -> Iterator[datetime]:
    """The instants in (start, limit] at which `zone` changes its UTC offset."""
    before, offset = start, start.astimezone(zone).utcoffset()
    while before < limit:
        after = min(before + SAMPLE, limit)
        changed = after.astimezone(zone).utcoffset()
        if changed != offset:
            yield _first_second_with(zone, before, after, changed)
        before, offset = after, changed


def _first_second_with(zone: ZoneInfo, lo: datetime, hi: datetime, offset) -> datetime:
    """The first whole second in (lo, hi] whose offset in `zone` is `offset` (bisection)."""
    low, high = int(lo.timestamp()), int(hi.timestamp()) + (hi.microsecond > 0)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
