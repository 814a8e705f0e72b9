"""Phone normalization on top of phonenumbers (Google's libphonenumber metadata).

The one place the service turns user-typed phone text into E.164.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from phonenumbers import timezone as phone_timezones
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from app import nanp

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "INVALID_COUNTRY_CODE",
    NumberParseException.NOT_A_NUMBER: "NOT_A_NUMBER",
    NumberParseException.TOO_SHORT_AFTER_IDD: "TOO_SHORT_AFTER_IDD",
    NumberParseException.TOO_SHORT_NSN: "TOO_SHORT",
    NumberParseException.TOO_LONG: "TOO_LONG",
}
_POSSIBILITY = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "INVALID_COUNTRY_CODE",
    phonenumbers.ValidationResult.TOO_SHORT: "TOO_SHORT",
    phonenumbers.ValidationResult.TOO_LONG: "TOO_LONG",
    phonenumbers.ValidationResult.INVALID_LENGTH: "INVALID_LENGTH",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "IS_POSSIBLE_LOCAL_ONLY",
}
_TYPES = {value: name for name, value in vars(PhoneNumberType).items() if name.isupper()}
MAX_PHONE_LENGTH = 64
# ASCII digits only: `\d` also matches fullwidth, Arabic-Indic and other Unicode digits,
# and a number that leaves this module must be ASCII E.164 (it is a cache key and a term).
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}", re.ASCII)
_E164_TEXT = re.compile(r"\+[1-9][0-9]{1,14}", re.ASCII)
# Memo of `canonical`: dialers check the same numbers over and over. Keys are at most
# MAX_PHONE_LENGTH characters (longer input is refused before the memo), so the memo
# holds at most about CANONICAL_MEMO * 400 bytes.
CANONICAL_MEMO = 65_536


# libphonenumber's validity of a North American (+1) number, precompiled. The library
# picks the number's region (by the region's leading digits where it has them, else by a
# full type match, in COUNTRY_CODE_TO_REGION_CODE order) and then asks whether the number
# matches that region's general pattern and any of its number types; it looks each pattern
# up in `re`'s cache on every call, which was most of a bulk DNC check's time
# (docs/performance.md). The same steps on patterns compiled once:
# tests/unit/test_phones.py compares both on many numbers. They answer until the digit
# trie of app/nanp.py (the same answer, about 20x faster) is built in the background.


def _matcher(desc):
    """(lengths or None, compiled pattern) of a number description, or None if it has none."""
    if desc is None or not desc.national_number_pattern:
        return None
    return (frozenset(desc.possible_length) or None, re.compile(desc.national_number_pattern))


def _region_rules(region: str):
    metadata = PhoneMetadata.metadata_for_region(region)
    leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
    types = tuple(m for m in (_matcher(getattr(metadata, d)) for d in nanp.TYPE_DESCS) if m)
    return leading, _matcher(metadata.general_desc), types


_NANP_RULES = tuple(_region_rules(r) for r in COUNTRY_CODE_TO_REGION_CODE[1])


def _matches(national: str, matcher) -> bool:
    if matcher is None:
        return False
    lengths, pattern = matcher
    return (lengths is None or len(national) in lengths) and bool(pattern.fullmatch(national))


def _has_type(national: str, general, types) -> bool:
    return _matches(national, general) and any(_matches(national, m) for m in types)


def _valid_nanp(national: str) -> bool:
    """phonenumbers.is_valid_number(+1 `national`), `national` ten digits, the first 2-9:
    the compiled trie of app/nanp.py once it is built, these patterns until then."""
    known = nanp.valid_national(national)
    if known is not None:
        return known
    return _valid_nanp_by_patterns(national)


def _valid_nanp_by_patterns(national: str) -> bool:
    """phonenumbers.is_valid_number(+1 `national`), `national` without leading zeros."""
    for leading, general, types in _NANP_RULES:
        if leading is not None:
            if leading.match(national):
                return _has_type(national, general, types)
        elif _has_type(national, general, types):
            return True
    return False


@dataclass
class PhoneInfo:
    original: str
    normalized: str | None = None
    isValid: bool = False  # noqa: N815 - the API's field names are camelCase
    countryCode: str | None = None  # noqa: N815
    areaCode: str | None = None  # noqa: N815
    isPossible: bool = False  # noqa: N815
    numberType: str | None = None  # noqa: N815
    validationErrors: list[str] = field(default_factory=list)  # noqa: N815
    extension: str | None = None
    nationalFormat: str | None = None  # noqa: N815
    internationalFormat: str | None = None  # noqa: N815
    regionUsed: str | None = None  # noqa: N815
    timezones: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _prepare(raw: str) -> str:
    text = raw.strip()
    if text.lower().startswith("tel:"):
        # RFC 3966: tel:+1-415-555-1234;ext=12 (parameters other than ext are dropped)
        text, _, params = text[4:].partition(";")
        ext = re.search(r"(?:^|;)ext=([0-9]+)", params)
        if ext:
            text = f"{text} ext. {ext.group(1)}"
    return text


def _parse(raw: str, region: str) -> phonenumbers.PhoneNumber:
    """The one parse every path uses; raises NumberParseException for non-numbers.

    libphonenumber reads the region's own international prefix (011 in the US, 0011 in
    Australia, 001/008 in Singapore, 00 in most of Europe) and any Unicode decimal digits
    it knows. A leading "00" typed from Europe is read as "+" only when the region's own
    reading gives no valid number, so "0011 44 ..." from Australia keeps its meaning.
    """
    text = _prepare(raw)
    number = phonenumbers.parse(text, region)
    if not phonenumbers.is_valid_number(number) and not text.lstrip().startswith("+"):
        # Digits only, Unicode digits read as ASCII, separators dropped ("00 44 20 ...").
        typed = phonenumbers.normalize_digits_only(text)
        if typed.startswith("00") and typed[2:3] not in ("", "0"):
            try:
                alternative = phonenumbers.parse("+" + typed[2:], region)
            except NumberParseException:
                return number
            if phonenumbers.is_valid_number(alternative):
                return alternative
    return number


def normalize(raw: str, default_country: str = "US") -> PhoneInfo:
    """Parse `raw` the way a person typed it; never raises for bad input."""
    info = PhoneInfo(original=raw, regionUsed=default_country.upper())
    if len(raw) > MAX_PHONE_LENGTH:
        info.validationErrors = ["TOO_LONG"]
        return info
    try:
        number = _parse(raw, default_country.upper())
    except NumberParseException as exc:
        info.validationErrors = [_PARSE_ERRORS.get(exc.error_type, "NOT_A_NUMBER")]
        return info
    possibility = phonenumbers.is_possible_number_with_reason(number)
    info.isPossible = possibility == phonenumbers.ValidationResult.IS_POSSIBLE
    info.isValid = phonenumbers.is_valid_number(number)
    if possibility in _POSSIBILITY:
        info.validationErrors.append(_POSSIBILITY[possibility])
    if not info.isValid and info.isPossible:
        info.validationErrors.append("INVALID_BUT_POSSIBLE")
    elif not info.isValid and not info.validationErrors:
        info.validationErrors.append("INVALID_NUMBER")
    region = phonenumbers.region_code_for_number(number)
    info.countryCode = region if region and region != "ZZ" else None
    info.extension = number.extension or None
    if info.isValid or info.isPossible:
        info.normalized = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        info.nationalFormat = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        info.internationalFormat = phonenumbers.format_number(
            number, PhoneNumberFormat.INTERNATIONAL
        )
    if info.isValid:
        info.numberType = _TYPES.get(phonenumbers.number_type(number), "UNKNOWN")
        info.areaCode = _area_code(number)
        zones = phone_timezones.time_zones_for_number(number)
        info.timezones = [z for z in zones if z != "Etc/Unknown"]
    return info


def _area_code(number: phonenumbers.PhoneNumber) -> str | None:
    national = phonenumbers.national_significant_number(number)
    length = phonenumbers.length_of_geographical_area_code(number)
    if not length:
        length = phonenumbers.length_of_national_destination_code(number)
    return national[:length] if length else None


def to_e164(raw: str, default_country: str = "US") -> str | None:
    """ASCII E.164 for a valid number, else None: what a stored contact or DNC entry keeps.

    The one normalizer of stored and checked numbers (contacts, imports, DNC entries,
    checks, cache keys, dedupe). The hot path of DNC checks and imports: parse, validate
    and format only, without the time zones, display formats and number type that
    `normalize` works out.
    """
    if len(raw) > MAX_PHONE_LENGTH:
        return None
    if _NANP_E164.fullmatch(raw):
        # What dialers send most: a North American number already in E.164, validated by
        # the precompiled rules above without the parser and its per-call lookups.
        return raw if _valid_nanp(raw[2:]) else None
    try:
        number = _parse(raw, default_country.upper())
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # format_number writes ASCII digits; checked anyway, since the result is a key.
    return e164 if _E164_TEXT.fullmatch(e164) else None


def validation_errors(raw: str, default_country: str = "US") -> list[str]:
    """Why `raw` is not a valid number: `normalize(raw).validationErrors`, for input that
    `to_e164` refused. A North American number typed in E.164 has 10 digits, always a
    possible length, so the only reason left is INVALID_BUT_POSSIBLE; it is answered
    without the full analysis (a bulk check of random numbers spent most of its time
    there). tests/unit/test_phones.py compares both."""
    if len(raw) <= MAX_PHONE_LENGTH and _NANP_E164.fullmatch(raw) and not _valid_nanp(raw[2:]):
        return ["INVALID_BUT_POSSIBLE"]
    return normalize(raw, default_country).validationErrors


def refused_reasons(raw: str, default_country: str = "US") -> list[str]:
    """`validation_errors(raw)` when the caller knows `canonical` refused `raw` (a bulk
    check has just normalized its batch): a North American number typed in E.164 was
    then refused by the trie, so its reason is INVALID_BUT_POSSIBLE without walking the
    trie a second time (about half of a random batch; tests/unit/test_dnc_check_rows.py
    compares both)."""
    if len(raw) == 12 and _NANP_E164.fullmatch(raw):
        return ["INVALID_BUT_POSSIBLE"]
    return validation_errors(raw, default_country)


@functools.lru_cache(maxsize=CANONICAL_MEMO)
def _canonical(raw: str, region: str) -> str | None:
    return to_e164(raw, region)


def canonical(raw: str, region: str = "US") -> str | None:
    """`to_e164`, memoized for short input (checks repeat the same numbers all day)."""
    if len(raw) > MAX_PHONE_LENGTH:
        return None
    return _canonical(raw, region.upper())


def canonical_many(raws: Sequence[str], region: str = "US") -> list[str | None]:
    """[canonical(raw, region) for raw in raws], for a dialer's batch: North American
    numbers already in E.164 (what dialers send most) go straight to the trie of
    app/nanp.py, skipping the memo, whose bookkeeping costs more than the trie's walk.
    tests/unit/test_phones.py compares it with `canonical` on hostile and random input."""
    region = region.upper()
    nanp_e164, valid_national = _NANP_E164.fullmatch, nanp.valid_national
    out: list[str | None] = []
    for raw in raws:
        if len(raw) == 12 and nanp_e164(raw):
            known = valid_national(raw[2:])
            if known is not None:
                out.append(raw if known else None)
                continue
        out.append(canonical(raw, region))
    return out


def country_calling_code(e164: str) -> str:
    """The calling code that starts an E.164 number ("+14155551234" -> "1"), without parsing.

    Calling codes are prefix-free, so the first 1-3 digits that name one are it.
    """
    for size in (1, 2, 3):
        if int(e164[1 : 1 + size]) in COUNTRY_CODE_TO_REGION_CODE:
            return e164[1 : 1 + size]
    raise ValueError(f"not an E.164 number: {e164!r}")


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


_PREFIX_TEXT = re.compile(r"\+[0-9]{1,14}", re.ASCII)


def e164_prefix(text: str) -> str | None:
    """A DNC prefix rule as typed ("+1201", "+44 90") -> "+120144" style ASCII E.164
    prefix, or None: "+" then 1-14 ASCII digits (spaces, dots and dashes dropped) that
    begin with a calling code libphonenumber knows. Fullwidth or other Unicode digits
    are refused: a prefix is a cache key and a search term, never guessed at."""
    if not isinstance(text, str) or len(text) > MAX_PHONE_LENGTH:
        return None
    compact = re.sub(r"[ .\-]", "", text)
    if not _PREFIX_TEXT.fullmatch(compact):
        return None
    for size in (1, 2, 3):
        if len(compact) > size and int(compact[1 : 1 + size]) in COUNTRY_CODE_TO_REGION_CODE:
            return compact
    return None
