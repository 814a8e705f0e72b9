"""How the typed search text is read, before any clause is built: pure, no I/O.

The contract: `parse_query` splits what the user typed on whitespace (never query-string
syntax), keeps at most MAX_WORDS words and drops words with no letter or digit (they
would analyze to no token and match nothing); text that is a phone number in any format
becomes the digit strings to look up instead. `particle_groups` keeps a run of name
particles with the word after it ("van der berg"), and `joined_readings` offers the
query with one pair of neighbouring name words joined ("ja ck matthews"), for the
broadened pass.

Why its own module: reading the text is independent of how each word is scored;
app/search/queries.py builds the scored clauses from these readings, and
app/search/highlights.py marks the same words in the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.phones import digits as digits_of
from app.search import names

# Edge n-grams in the mapping stop at 20 characters; phone grams start at 3 digits.
MIN_PHONE_DIGITS = 3
MAX_WORDS = 10
# The broadened pass also reads a query of up to this many words with one pair of
# neighbours joined ("ja ck matthews"): each reading is a whole query, so the cost grows
# with the words; a person's name is rarely typed in more than four.
MAX_JOINED_WORDS = 4

PHONE_LIKE = re.compile(r"^[\d\s+().\-/]+$")
HAS_WORD_CHAR = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class ParsedQuery:
    """What the user typed, split into the words each clause is built from."""

    words: tuple[str, ...] = ()
    # Digit strings to look up when the whole query is a phone number in any format.
    phone: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.words and not self.phone


def parse_query(text: str | None) -> ParsedQuery:
    """Split on whitespace; the query never reaches query-string syntax.

    A word with no letter or digit (`***`, `"`, `()`) is dropped: it would analyze to
    no token and make the whole query match nothing.
    """
    text = (text or "").strip()
    if not text:
        return ParsedQuery()
    if PHONE_LIKE.match(text):
        digits = digits_of(text)
        if len(digits) >= MIN_PHONE_DIGITS:
            return ParsedQuery(phone=phone_variants_typed(digits))
    words = tuple(w for w in text.split() if HAS_WORD_CHAR.search(w))
    return ParsedQuery(words=words[:MAX_WORDS])


def phone_variants_typed(digits: str) -> tuple[str, ...]:
    """The digits as typed, and without a leading 0/00 (trunk or international prefix).

    Stored numbers carry the E.164 digits and the national significant number, so
    "+44 20 7946 0000", "020 7946 0000" and "0044 20..." all meet one of them.
    """
    stripped = digits.lstrip("0")
    variants = [digits]
    if stripped != digits and len(stripped) >= MIN_PHONE_DIGITS:
        variants.append(stripped)
    return tuple(variants)


def name_word(word: str) -> str | None:
    """The word as one folded name token, or None when it is not one (digits, several)."""
    parts = names.words_of(word)
    if len(parts) != 1 or any(ch.isdigit() or ch in "@" for ch in word):
        return None
    return parts[0]


def particle_groups(words: tuple[str, ...]) -> list[list[int]]:
    """Word positions, a run of particles kept with the word after it ("van der berg")."""
    groups: list[list[int]] = []
    pending: list[int] = []
    for i, word in enumerate(words):
        pending.append(i)
        if not names.is_particle(word) or i == len(words) - 1:
            groups.append(pending)
            pending = []
    return groups


def joined_at(words: tuple[str, ...], reading: tuple[str, ...]) -> int:
    """The position of the joined word in a reading of words (the first that differs)."""
    return next(i for i, (a, b) in enumerate(zip(words, reading, strict=False)) if a != b)


def joined_readings(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The query with one pair of neighbouring name words joined, for every such pair.

    Only up to MAX_JOINED_WORDS words (each reading is a whole query again), and only
    words that are one name token each (never digits, addresses or particles, which the
    particle groups already join), joined as their folded tokens ('"john" AND' never
    reads as "john").
    """
    if not 1 < len(words) <= MAX_JOINED_WORDS:
        return []
    readings = []
    for i in range(len(words) - 1):
        left, right = name_word(words[i]), name_word(words[i + 1])
        if left and right and not names.is_particle(words[i]):
            readings.append((*words[:i], left + right, *words[i + 2 :]))
    return readings
