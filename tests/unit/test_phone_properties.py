"""Property tests of the one normalizer: however a number is typed, it leaves as the
ASCII E.164 that libphonenumber itself reads, or as invalid.

The DNC invariant depends on it: a listed number typed in another form (fullwidth or
Arabic-Indic digits, another region's exit code, punctuation) must reach the same key.
"""

from __future__ import annotations

import re

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat

from app.phones import canonical, to_e164

E164 = re.compile(r"\+[1-9][0-9]{1,14}", re.ASCII)
# Unicode decimal digit sets libphonenumber reads: fullwidth, Arabic-Indic, Eastern
# Arabic-Indic, Devanagari.
DIGIT_SETS = ["0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९"]
SEPARATORS = ["", " ", "-", ".", "/", "  ", "\u00a0", "\u2011"]
REGIONS = sorted(
    r
    for r in phonenumbers.SUPPORTED_REGIONS
    if phonenumbers.example_number(r) is not None
    and phonenumbers.is_valid_number(phonenumbers.example_number(r))
)
PROFILE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plain_idd(region: str) -> str | None:
    """The region's exit code when it is one plain digit string (0011, 011, 00, 001...)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    prefix = metadata.preferred_international_prefix or metadata.international_prefix
    return prefix if prefix and prefix.isdigit() else None


@st.composite
def typed_numbers(draw):
    """(region the person is in, the number's E.164, the number as they typed it)."""
    home = draw(st.sampled_from(REGIONS))
    number = phonenumbers.example_number(draw(st.sampled_from(REGIONS)))
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    forms = [e164, international]
    if phonenumbers.region_code_for_number(number) == home:
        forms.append(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    idd = plain_idd(home)
    if idd:
        forms.append(idd + " " + international[1:])
    text = draw(st.sampled_from(forms))
    digits = draw(st.sampled_from(DIGIT_SETS))
    text = "".join(digits[int(c)] if c.isascii() and c.isdigit() else c for c in text)
    separator = draw(st.sampled_from(SEPARATORS))
    text = text.replace(" ", separator) if separator else text
    return home, e164, text


@PROFILE
@given(typed_numbers())
def test_any_typing_of_a_valid_number_normalizes_to_its_ascii_e164(case):
    home, e164, text = case
    assert to_e164(text, home) == e164, (home, text)
    assert canonical(text, home) == e164


@PROFILE
@given(st.text(max_size=40), st.sampled_from(REGIONS))
def test_any_text_is_ascii_e164_as_libphonenumber_reads_it_or_invalid(text, region):
    result = to_e164(text, region)
    assert result is None or E164.fullmatch(result)
    try:
        own = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return
    if phonenumbers.is_valid_number(own):
        assert result == phonenumbers.format_number(own, PhoneNumberFormat.E164)


@PROFILE
@given(
    st.text(alphabet="0123456789０１２３٠١٢+-() .", min_size=1, max_size=30),
    st.sampled_from(["US", "AU", "SG", "GB", "DE", "IN"]),
)
def test_digit_heavy_text_never_leaves_with_unicode_digits(text, region):
    result = canonical(text, region)
    assert result is None or (result.isascii() and E164.fullmatch(result))
