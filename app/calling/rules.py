"""Calling rules from a workspace policy: pure data, no I/O.

A policy (the API's JSON shape, stored as is) holds a default rule and overrides keyed by
region: an ISO 3166-1 country ("US") or a subdivision ("US-FL"). A rule says when a call
may *start*, in the callee's local wall-clock time:

- `window` {start, end}: "HH:MM" to "HH:MM", start inclusive, end exclusive; end may be
  "24:00" (to the end of the day). The US federal TCPA default is 08:00-21:00.
- `dayWindows` {weekday: window}: another window on some weekdays (Texas: Sundays from
  noon). A layer that sets `window` also replaces the `dayWindows` it inherits, so a state
  that shortens the day is not silently widened again by the default's weekday windows.
- `noCallDays` [weekday]: no calls at all on these weekdays (callee-local).
- `holidays` ["YYYY-MM-DD"]: no calls on these callee-local dates.

The rule for a number is built in layers: default, then its country's override, then its
subdivision's; each layer replaces the fields it sets and inherits the rest. Where the
subdivision cannot be told from the number, every subdivision override of its country
applies (each as its own rule, and the number must satisfy all of them): the most
restrictive reading, as for several possible time zones (app/calling/windows.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MINUTES = 24 * 60
RULE_FIELDS = ("window", "dayWindows", "noCallDays", "holidays")
# The US federal TCPA window (47 CFR 64.1200(c)(1)): 8 a.m. to 9 p.m. at the called party's
# location, every day.
TCPA_WINDOW = {"start": "08:00", "end": "21:00"}

HOLIDAY, NO_CALL_DAY, OUTSIDE_WINDOW = "holiday", "no_call_day", "outside_window"

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def parse_clock(text: str, *, end: bool = False) -> int:
    """Minutes after midnight of an "HH:MM" wall-clock time; "24:00" only as an end."""
    if end and text == "24:00":
        return DAY_MINUTES
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError("Use HH:MM, 00:00 to 23:59" + (" (or 24:00)." if end else "."))
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_date(text: str) -> date:
    """An ISO calendar date, "YYYY-MM-DD" exactly (no week dates, no times)."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise ValueError("Use an ISO date, YYYY-MM-DD.")
    return date.fromisoformat(text)


@dataclass(frozen=True)
class Window:
    """Minutes after local midnight: a call may start at `start` up to, not at, `end`."""

    start: int
    end: int

    @classmethod
    def parse(cls, value: Mapping) -> Window:
        start, stop = parse_clock(value["start"]), parse_clock(value["end"], end=True)
        if start >= stop:
            raise ValueError("The window's start must be before its end.")
        return cls(start, stop)


@dataclass(frozen=True)
class Rule:
    """When calls may start, per callee-local day; `name` is the layer it came from."""

    name: str
    windows: tuple[Window, ...]  # one per weekday, Monday first
    no_call_days: frozenset[int] = frozenset()
    holidays: frozenset[date] = frozenset()

    def window_on(self, day: date) -> Window | None:
        """That local day's window, or None when no call may start on it."""
        if day in self.holidays or day.weekday() in self.no_call_days:
            return None
        return self.windows[day.weekday()]

    def refusal(self, local: datetime) -> str | None:
        """Why a call may not start at this local time, or None when it may."""
        day = local.date()
        if day in self.holidays:
            return HOLIDAY
        if day.weekday() in self.no_call_days:
            return NO_CALL_DAY
        window = self.windows[day.weekday()]
        # Whole minutes: 20:59:59 is inside an end of 21:00, 07:59:59 outside a start of 08:00.
        minute = local.hour * 60 + local.minute
        return None if window.start <= minute < window.end else OUTSIDE_WINDOW


def default_policy(window: Mapping | None = None) -> dict:
    """The policy of a workspace that has not stored one: one window, every day."""
    return {
        "window": dict(window or TCPA_WINDOW),
        "dayWindows": {},
        "noCallDays": [],
        "holidays": [],
        "regions": {},
    }


def build_rule(name: str, layers: Sequence[Mapping]) -> Rule:
    """The rule of the last layer, each layer replacing the fields it sets."""
    merged: dict = {}
    for layer in layers:
        if layer.get("window") is not None:
            merged["dayWindows"] = {}
        merged.update({key: layer[key] for key in RULE_FIELDS if layer.get(key) is not None})
    base = Window.parse(merged["window"])
    day_windows = merged.get("dayWindows") or {}
    return Rule(
        name=name,
        windows=tuple(
            Window.parse(day_windows[day]) if day in day_windows else base for day in WEEKDAYS
        ),
        no_call_days=frozenset(WEEKDAYS.index(day) for day in merged.get("noCallDays") or ()),
        holidays=frozenset(parse_date(text) for text in merged.get("holidays") or ()),
    )


def rules_for(policy: Mapping, country: str | None, subdivisions: Sequence[str]) -> list[Rule]:
    """Every rule a number in `country` (and one of `subdivisions`, if known) must satisfy.

    Known subdivisions: one rule each (several when the number's area spans several, e.g.
    "Nova Scotia/Prince Edward Island"). Unknown: the country's rule, plus one per
    subdivision override of that country, since the callee may be in any of them.
    """
    regions = policy.get("regions") or {}
    layers = [policy]
    name = "default"
    if country and country in regions:
        layers, name = [policy, regions[country]], country
    if subdivisions:
        chosen = [key for key in dict.fromkeys(subdivisions) if key in regions]
        # A subdivision without an override of its own answers to its country's rule.
        with_country = len(chosen) < len(set(subdivisions))
    else:
        chosen = sorted(key for key in regions if country and key.startswith(f"{country}-"))
        with_country = True
    rules = [build_rule(name, layers)] if with_country else []
    return rules + [build_rule(key, [*layers, regions[key]]) for key in chosen]


def intersect(rules: Sequence[Rule]) -> Rule:
    """One rule that allows exactly what every one of `rules` allows, in any one zone.

    Each rule has one window per weekday, and the intersection of intervals is an
    interval (empty when they do not overlap: a day with no time, refused as
    outside_window); no-call days and holidays add up. So a number under fifty state
    overrides is judged against one rule per zone, not fifty.
    """
    if len(rules) == 1:
        return rules[0]
    return Rule(
        name="+".join(rule.name for rule in rules),
        windows=tuple(
            Window(
                max(rule.windows[day].start for rule in rules),
                min(rule.windows[day].end for rule in rules),
            )
            for day in range(len(WEEKDAYS))
        ),
        no_call_days=frozenset().union(*(rule.no_call_days for rule in rules)),
        holidays=frozenset().union(*(rule.holidays for rule in rules)),
    )
