"""Which fields of a hit matched the query, and the matched character spans.

Computed from the parsed query with the same rules the query builder uses (folded
tokens, exact / prefix / typo within the same edit budget, phone digits as prefix or
suffix), so a UI can bold "Joh" in "John" while the user types. The engine's own
highlighter would mark the whole n-gram token and costs a re-analysis per hit.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from app.search.queries import FUZZY_PREFIX_LENGTH, MIN_FUZZY_PREFIX, ParsedQuery, fuzziness_for

TEXT_FIELDS = ("firstName", "lastName", "company", "email")
_TOKEN = re.compile(r"[^\W_]+")
# asciifolding maps these letters to more than the base letter NFKD leaves.
_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d"})


@functools.lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Lowercase without accents, one output character per input character where possible."""
    text = text.lower().translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(value: str) -> list[tuple[int, int, str]]:
    """(start, end, folded token) with offsets into the original value."""
    found = []
    for match in _TOKEN.finditer(value):
        found.append((match.start(), match.end(), fold(match.group())))
    return found


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (transpositions count as one), capped at limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


# Names and companies repeat across hits and pages: a word meets the same tokens again and
# again, so the edit-distance work is memoized (the cache is bounded).
@functools.lru_cache(maxsize=262_144)
def _word_span(word: str, token: str, *, is_last: bool) -> int | None:
    """Length of the token matched by the word (its prefix or all of it), or None."""
    if token == word:
        return len(token)
    if token.startswith(word):
        return len(word)
    if token[:FUZZY_PREFIX_LENGTH] != word[:FUZZY_PREFIX_LENGTH]:
        return None  # the query never forgives a typo in the first letters either
    edits = fuzziness_for(word)
    if edits and edit_distance(word, token, edits) <= edits:
        return len(token)
    if edits and is_last and len(word) >= MIN_FUZZY_PREFIX:
        for size in range(max(1, len(word) - edits), min(len(token), len(word) + edits) + 1):
            if edit_distance(word, token[:size], edits) <= edits:
                return size
    return None


def _merge(spans: list[tuple[int, int]]) -> list[dict]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [{"start": s, "end": e} for s, e in merged]


def _phone_spans(phone: str, digit_strings: tuple[str, ...]) -> list[tuple[int, int]]:
    """Spans in the E.164 string for digits that match its start (after any country
    code) or its end."""
    positions = [i for i, ch in enumerate(phone) if ch.isdigit()]
    stored = "".join(phone[i] for i in positions)
    spans = []
    for digits in digit_strings:
        if len(digits) > len(stored):
            continue
        if stored.endswith(digits):
            first = positions[len(stored) - len(digits)]
            spans.append((first, positions[-1] + 1))
        else:
            at = stored.find(digits)
            # A prefix of the E.164 digits or of the national number behind the country code.
            if 0 <= at <= 3:
                spans.append((positions[at], positions[at + len(digits) - 1] + 1))
    return spans


def highlights(contact: dict, parsed: ParsedQuery) -> list[dict]:
    """[{"field", "value", "spans": [{"start", "end"}]}] for each field the query matched."""
    if parsed.is_empty:
        return []
    result = []
    words = [(fold(w), i == len(parsed.words) - 1) for i, w in enumerate(parsed.words)]
    for field in TEXT_FIELDS:
        value = contact.get(field)
        if not value:
            continue
        spans = []
        for start, end, token in _tokens(value):
            for raw, is_last in words:
                for word in _TOKEN.findall(raw):
                    size = _word_span(word, token, is_last=is_last)
                    if size:
                        # Folding may lengthen a letter (ß -> ss): stay inside the token.
                        spans.append((start, min(start + size, end)))
        if spans:
            result.append({"field": field, "value": value, "spans": _merge(spans)})
    digit_strings = parsed.phone or tuple(
        d
        for w in parsed.words
        if len(d := re.sub(r"\D", "", w)) >= 3 and not re.search(r"[^\W\d_]", w)
    )
    if contact.get("phone") and digit_strings:
        spans = _phone_spans(contact["phone"], digit_strings)
        if spans:
            result.append({"field": "phone", "value": contact["phone"], "spans": _merge(spans)})
    return result
