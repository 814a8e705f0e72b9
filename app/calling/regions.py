"""Where a number rings, as far as libphonenumber knows: its zones, country and subdivision.

Pure lookups in data that ships with the packages (libphonenumber's timezone and geocoder
tables, the IANA zone.tab from `tzdata`); no I/O beyond reading those files once.

- Zones: `phonenumbers.timezone.time_zones_for_number`. It answers one zone for most
  geographic numbers, every zone of the calling code for non-geographic ones (a US
  toll-free +1 800 number: all 42 North American zones, Guam to Newfoundland), and
  "Etc/Unknown" when it cannot tell. Unknown: the zones of the number's country from
  zone.tab (the callee is somewhere in it); a number of no country (+800 international
  freephone) or of a country with no zone has none, and is never callable
  (`unknown_timezone`). A zone the installed tz database lacks counts as unknown too.
- Subdivision: read from the geocoder's English description, for the two countries
  where it names one (US states, Canadian provinces): "New York, NY" or "Texas" ->
  US-NY / US-TX; "Nova Scotia/Prince Edward Island" -> both. Anything else (a city
  without a state, "Canada", a toll-free number) leaves it unknown, and the rules of
  every subdivision of the country apply (app/calling/rules.py).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezones

UNKNOWN_ZONE = "Etc/Unknown"
_NAMES = json.loads(Path(__file__).with_name("subdivisions.json").read_text(encoding="utf-8"))
SUBDIVISION_NAMES: dict[str, dict[str, str]] = {
    country: names for country, names in _NAMES.items() if not country.startswith("_")
}
# Policy overrides may only name subdivisions a number can be matched to.
DERIVABLE_SUBDIVISIONS = frozenset(
    f"{country}-{code}" for country, names in SUBDIVISION_NAMES.items() for code in names.values()
)
_CODE_SUFFIX = re.compile(r", ([A-Z]{2})$")


@dataclass(frozen=True)
class Location:
    """What the number says about where it rings."""

    zones: tuple[str, ...]
    zone_source: str  # "number" (libphonenumber), "country" (zone.tab) or "none"
    country: str | None
    subdivisions: tuple[str, ...]
    label: str | None


# Dialers ask about the same numbers all day; a Location is a few hundred bytes.
LOCATE_MEMO = 16_384


@functools.lru_cache(maxsize=LOCATE_MEMO)
def locate(e164: str) -> Location:
    """The location of a valid E.164 number (from app/phones.py), memoized."""
    number = phonenumbers.parse(e164)
    region = phonenumbers.region_code_for_number(number)
    country = region if region and len(region) == 2 and region != "ZZ" else None
    zones, source = candidate_zones(phone_timezones.time_zones_for_number(number), country)
    label = geocoder.description_for_number(number, "en") or None
    return Location(zones, source, country, subdivisions_of(country, label), label)


def candidate_zones(named: Sequence[str], country: str | None) -> tuple[tuple[str, ...], str]:
    """The zones to judge a number by, and where they came from (see the module doc)."""
    known = [zone for zone in named if zone != UNKNOWN_ZONE]
    source = "number"
    if not known:
        known, source = list(country_zones(country)) if country else [], "country"
    zones = tuple(zone for zone in known if load_zone(zone) is not None)
    if len(zones) < len(known) or not zones:
        # A zone we cannot read is a place we cannot clear: no answer, never "allowed".
        return (), "none"
    return zones, source


def subdivisions_of(country: str | None, label: str | None) -> tuple[str, ...]:
    """ISO 3166-2 codes the geocoder's description names, or () when it names none."""
    names = SUBDIVISION_NAMES.get(country or "")
    if not names or not label:
        return ()
    suffix = _CODE_SUFFIX.search(label)
    if suffix:
        code = f"{country}-{suffix.group(1)}"
        return (code,) if code in DERIVABLE_SUBDIVISIONS else ()
    parts = [names.get(part.strip()) for part in label.split("/")]
    if not all(parts):
        return ()
    return tuple(dict.fromkeys(f"{country}-{code}" for code in parts))


@functools.lru_cache(maxsize=1024)
def load_zone(name: str) -> ZoneInfo | None:
    """The zone, or None when the installed tz database does not have it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=512)
def country_zones(country: str) -> tuple[str, ...]:
    """The IANA zones of an ISO country (zone.tab: one row per country and zone)."""
    return tuple(zone for code, zone in _zone_table() if code == country)


@functools.lru_cache(maxsize=1)
def _zone_table() -> tuple[tuple[str, str], ...]:
    text = importlib.resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return tuple((row[0], row[2]) for row in rows if len(row) >= 3)
