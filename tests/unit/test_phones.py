"""Normalization of real-world phone input."""

from __future__ import annotations

import pytest

from app.phones import normalize

# (input, default country, normalized or None, isValid, expected error or None)
TABLE = [
    ("(415) 555-1234", "US", "+14155551234", True, None),
    ("415.555.1234", "US", "+14155551234", True, None),
    ("415 555 1234", "US", "+14155551234", True, None),
    ("1-415-555-1234", "US", "+14155551234", True, None),
    ("+1 (415) 555-1234", "US", "+14155551234", True, None),
    ("+14155551234", "GB", "+14155551234", True, None),
    ("001 415 555 1234", "DE", "+14155551234", True, None),
    ("0044 20 7946 0000", "US", "+442079460000", True, None),
    ("020 7946 0000", "GB", "+442079460000", True, None),
    ("+44 (0)20 7946 0000", "US", "+442079460000", True, None),
    ("07911 123456", "GB", "+447911123456", True, None),
    ("030 123456", "DE", "+4930123456", True, None),
    ("+33 1 23 45 67 89", "US", "+33123456789", True, None),
    ("+61 2 9876 5432", "US", "+61298765432", True, None),
    ("+91 98765 43210", "US", "+919876543210", True, None),
    ("tel:+1-415-555-1234", "US", "+14155551234", True, None),
    ("tel:+1-415-555-1234;ext=77", "US", "+14155551234", True, None),
    ("(415) 555-1234 ext. 12", "US", "+14155551234", True, None),
    ("415-555-1234 x99", "US", "+14155551234", True, None),
    ("1-800-FLOWERS", "US", "+18003569377", True, None),
    ("  +1 415 555 1234  ", "US", "+14155551234", True, None),
    ("555-1234", "US", None, False, None),
    ("123", "US", None, False, "TOO_SHORT"),
    ("hello", "US", None, False, "NOT_A_NUMBER"),
    ("", "US", None, False, "NOT_A_NUMBER"),
    ("+999 1234 5678", "US", None, False, "INVALID_COUNTRY_CODE"),
    ("+1 415 555 1234 5678 9999", "US", None, False, "TOO_LONG"),
    ("1" * 200, "US", None, False, "TOO_LONG"),
    ("+1 099 555 1234", "US", "+10995551234", False, "INVALID_BUT_POSSIBLE"),
]


@pytest.mark.parametrize(("raw", "country", "normalized", "valid", "error"), TABLE)
def test_normalization_table(raw, country, normalized, valid, error):
    info = normalize(raw, country)
    assert info.isValid is valid, info
    if valid:
        assert info.normalized == normalized
        assert info.validationErrors == []
        assert info.countryCode and info.internationalFormat and info.nationalFormat
    else:
        assert info.validationErrors, info
        if error:
            assert error in info.validationErrors, info


def test_seed_example_fields():
    info = normalize("(415) 555-1234", "US").as_dict()
    assert info["original"] == "(415) 555-1234"
    assert info["normalized"] == "+14155551234"
    assert info["isValid"] is True
    assert info["countryCode"] == "US"
    assert info["areaCode"] == "415"
    assert info["timezones"] == ["America/Los_Angeles"]


def test_extension_is_kept_separately():
    info = normalize("tel:+1-415-555-1234;ext=77", "US")
    assert info.extension == "77" and info.normalized == "+14155551234"


def test_possible_but_invalid_is_flagged():
    info = normalize("+1 099 555 1234", "US")
    assert not info.isValid
    assert info.isPossible and info.validationErrors == ["INVALID_BUT_POSSIBLE"]


def test_fast_e164_path_agrees_with_the_full_analysis():
    import random

    from app.phones import to_e164

    rng = random.Random(7)
    samples = [f"+1{rng.randint(2_000_000_000, 9_999_999_999)}" for _ in range(2_000)]
    samples += [raw for raw, *_ in TABLE]
    for raw in samples:
        info = normalize(raw, "US")
        assert to_e164(raw, "US") == (info.normalized if info.isValid else None), raw


def test_the_precompiled_north_american_rules_agree_with_libphonenumber():
    import random

    import phonenumbers

    from app.phones import _valid_nanp_by_patterns

    rng = random.Random(14)
    samples = [f"{rng.randrange(2 * 10**9, 10**10)}" for _ in range(30_000)]
    # Every NANP area code, a few exchanges each: all 25 regions' rules are exercised.
    samples += [f"{npa}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"
                for npa in range(200, 1000) for _ in range(5)]  # fmt: skip
    samples += ["2015550123", "8005550199", "9005550100", "5005550100", "6135550123"]
    for national in samples:
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
        assert _valid_nanp_by_patterns(national) == phonenumbers.is_valid_number(number), national


def test_the_quick_reasons_of_an_invalid_north_american_number_are_normalizes_reasons():
    import random

    from app.phones import normalize, to_e164, validation_errors

    rng = random.Random(15)
    numbers = [f"+1{rng.randrange(2 * 10**9, 10**10)}" for _ in range(3_000)]
    invalid = [n for n in numbers if to_e164(n) is None]
    assert len(invalid) > 100
    for raw in [*invalid, "+1415555123", "415 555 1234x", "+44 20", "nope"]:
        assert validation_errors(raw) == normalize(raw).validationErrors, raw


def test_a_batchs_normalization_is_each_numbers_normalization():
    """canonical_many (the bulk check's fast path) against canonical, one by one."""
    import random

    from app import nanp
    from app.phones import canonical, canonical_many

    nanp.trie()  # the fast path answers only once the trie is built
    rng = random.Random(16)
    raws = [f"+1{rng.randrange(2 * 10**9, 10**10)}" for _ in range(20_000)]
    raws += [f"+1{rng.randrange(10**10):010d}" for _ in range(2_000)]  # leading 0 and 1
    raws += [
        "+14155550123",
        "+1415555012",
        "+141555501234",
        "+14155550123 ",
        " +14155550123",
        "+1 415 555 0123",
        "tel:+14155550123",
        "+１４１５５５５０１２３",  # fullwidth digits
        "+١٤١٥٥٥٥٠١٢٣",  # Arabic-Indic digits
        "+14155550l23",
        "+1415555\x000123",
        "(415) 555-0123",
        "0014155550123",
        "+442079460000",
        "",
        "+",
        "+1" + "9" * 63,
        "+1" + "4" * 5_000,
        "ünïcødé",
    ]
    for region in ("US", "us", "GB", "DE"):
        assert canonical_many(raws, region) == [canonical(raw, region) for raw in raws]
