"""The ways a dialer or a CSV file may spell one US number. Pure, no I/O.

Every form of a number must be answered about that number: national, with the US
exit code, punctuated, with fullwidth or Arabic-Indic digits, or typed under another
region's default (Australia's exit code is 0011).
"""

from __future__ import annotations

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
EXTENDED_ARABIC_INDIC = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def us_forms(e164: str) -> dict[str, str]:
    """Style name -> text, for a "+1" number, read with the US as default region."""
    digits = e164[2:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return {
        "e164": e164,
        "national": f"({area}) {exchange}-{line}",
        "dashed": f"1-{area}-{exchange}-{line}",
        "dotted": f"+1 {area}.{exchange}.{line}",
        "digits": digits,
        "fullwidth": "+1" + digits.translate(FULLWIDTH),
        "mixed_fullwidth": "+1" + digits[:2] + digits[2:].translate(FULLWIDTH),
        "arabic_indic": "+1" + digits.translate(ARABIC_INDIC),
        "extended_arabic_indic": "+١ " + digits.translate(EXTENDED_ARABIC_INDIC),
        "exit_011": f"011 1 {area} {exchange} {line}",
    }


def au_forms(e164: str) -> dict[str, str]:
    """Style name -> text, for the same number typed with Australia as default region."""
    digits = e164[2:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return {
        "au:e164": e164,
        "au:dotted": f"+1 {area}.{exchange}.{line}",
        "au:fullwidth": "+1" + digits.translate(FULLWIDTH),
        "au:exit_0011": f"0011 1 {area} {exchange} {line}",
    }


def forms(e164: str, region: str = "US") -> dict[str, str]:
    return au_forms(e164) if region == "AU" else us_forms(e164)


def tag_of(e164: str) -> str:
    """The tag that marks a contact as written for this number (search checks use it)."""
    return "chaos-" + e164[1:]
