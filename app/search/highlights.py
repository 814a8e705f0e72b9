"""Which fields of a hit matched the query, and the matched character spans.

Computed from the parsed query with the same rules the query builder uses (folded
tokens, exact / prefix / typo within the same edit budget, phone digits as prefix or
suffix), so a UI can bold "Joh" in "John" while the user types. The engine's own
highlighter would mark the whole n-gram token and costs a re-analysis per hit.

The primary number and address are entries `phone` and `email`. Search matches every
number and address of a contact (phoneDigits, emailAddresses), so a secondary one the
query matched gets its own entry, `phones` / `emails` with its `index` in the contact's
list: a caller ID showing a mobile that is not the primary says which number it was.
Secondary numbers follow the primary's digit rules; secondary addresses are drawn only
where the engine's email clause could match: the address split as the mapping's
`email_parts` tokenizer splits it, each part of a query word equal to or a prefix of a
part (no typos: the query builder never allows them on emails), and every part of the
word found among the contact's addresses (the clause's operator "and"). A contact with
one number and one address, or a query with no digits or no words, costs nothing more.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from app.search.queries import fuzziness_for
from app.search.readings import ParsedQuery
from app.search.weights import FUZZY_PREFIX_LENGTH, MIN_FUZZY_PREFIX

TEXT_FIELDS = ("firstName", "lastName", "company", "email")
_TOKEN = re.compile(r"[^\W_]+")
# The mapping's email_parts tokenizer splits on runs of these (index_mappings/contacts.json).
_EMAIL_PART = re.compile(r"[^@._+\-]+")
_EMAIL_SEPARATORS = re.compile(r"[@._+\-]+")
EMAIL_PREFIX_CHARS = 20  # the email_prefix analyzer's edge n-grams stop here
_SEP = "\x00"  # joins an address's folded parts for a quick substring test
# asciifolding maps these letters to more than the base letter NFKD leaves.
_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d"})


# Bounds on the work and memory one search may cost. Highlighting is cosmetic: past
# these, a token or word is matched exactly or as a prefix, never fuzzily.
MAX_FUZZY_CHARS = 32  # typo matching compares words of at most this many characters
MAX_TOKENS_PER_FIELD = 32  # a 200-character name of one-letter words is not 100 tokens
MAX_QUERY_PARTS = 16  # sub-words of the query ("a_b_c" splits) considered at all
JOINED_RUN = 3  # a word typed joined may spell this many tokens ("van der berg")
# Memo keys are at most MAX_MEMO_KEY_CHARS long and the memos at most this many
# entries (~300 bytes each): a few MB per worker, whatever the queries and names.
MAX_MEMO_KEY_CHARS = 64
FOLD_MEMO_ENTRIES = 16_384
SPAN_MEMO_ENTRIES = 32_768


def fold(text: str) -> str:
    """Lowercase without accents, one output character per input character where possible."""
    if len(text) > MAX_MEMO_KEY_CHARS:
        return _fold(text)  # long text is rare: folding it again beats holding it
    return _fold_memo(text)


def _fold(text: str) -> str:
    text = text.lower().translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_fold_memo = functools.lru_cache(maxsize=FOLD_MEMO_ENTRIES)(_fold)


def _tokens(value: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, folded token) with offsets into the original value (the first few)."""
    if len(value) > MAX_MEMO_KEY_CHARS:
        return _scan_tokens(value)
    return _tokens_memo(value)


def _scan_tokens(value: str) -> tuple[tuple[int, int, str], ...]:
    found = []
    for match in _TOKEN.finditer(value):
        found.append((match.start(), match.end(), fold(match.group())))
        if len(found) == MAX_TOKENS_PER_FIELD:
            break
    return tuple(found)


# First names, last names and companies repeat across hits and requests. An entry holds
# up to MAX_TOKENS_PER_FIELD tuples (~100 bytes each): fewer entries than the fold memo
# keep the worst case (32 one-letter words in every value) near 10 MB per worker.
TOKENS_MEMO_ENTRIES = 4_096
_tokens_memo = functools.lru_cache(maxsize=TOKENS_MEMO_ENTRIES)(_scan_tokens)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (transpositions count as one), capped at limit+1.

    Only the diagonal band of width 2*limit+1 can hold a distance within the limit, so
    only that band is computed, and a row whose every cell is past the limit stops the
    walk: O(len * limit) instead of O(len_a * len_b).
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    over = limit + 1
    width = len(b) + 1
    previous2: list[int] = []
    previous = [j if j <= limit else over for j in range(width)]
    for i in range(1, len(a) + 1):
        current = [over] * width
        if i <= limit:
            current[0] = i
        low, high = max(1, i - limit), min(len(b), i + limit)
        for j in range(low, high + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = min(value, over)
        if min(current[max(0, low - 1) : high + 1]) > limit:
            return over
        previous2, previous = previous, current
    return previous[len(b)]


def _word_span(word: str, token: str, *, is_last: bool) -> int | None:
    """Length of the token matched by the word (its prefix or all of it), or None."""
    if token == word:
        return len(token)
    if token.startswith(word):
        return len(word)
    if token[:FUZZY_PREFIX_LENGTH] != word[:FUZZY_PREFIX_LENGTH]:
        return None  # the query never forgives a typo in the first letters either
    if len(word) > MAX_FUZZY_CHARS or len(token) > MAX_FUZZY_CHARS + 2:
        return None
    return _fuzzy_span(word, token, is_last)


# Names and companies repeat across hits and pages: a word meets the same tokens again and
# again, so the edit-distance work is memoized. Keys are bounded by MAX_FUZZY_CHARS.
@functools.lru_cache(maxsize=SPAN_MEMO_ENTRIES)
def _fuzzy_span(word: str, token: str, is_last: bool) -> int | None:
    edits = fuzziness_for(word)
    if edits and edit_distance(word, token, edits) <= edits:
        return len(token)
    if edits and is_last and len(word) >= MIN_FUZZY_PREFIX:
        for size in range(max(1, len(word) - edits), min(len(token), len(word) + edits) + 1):
            if edit_distance(word, token[:size], edits) <= edits:
                return size
    return None


def _joined_spans(tokens: tuple[tuple[int, int, str], ...], words: tuple[str, ...]) -> list:
    """A word typed joined ("vanderberg", "obrien") over the run of tokens it spells."""
    spans = []
    if len(tokens) < 2:
        return spans
    for word in words:
        for i in range(len(tokens)):
            # A run spells the word only if its first token starts it: skip the joins.
            if not word.startswith(tokens[i][2]):
                continue
            for j in range(i + 2, min(i + JOINED_RUN, len(tokens)) + 1):
                if "".join(t[2] for t in tokens[i:j]) == word:
                    spans.append((tokens[i][0], tokens[j - 1][1]))
    return spans


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
    if phone[:1] == "+" and phone.isascii() and phone[1:].isdigit():
        return _e164_spans(phone, digit_strings)
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


def _e164_spans(phone: str, digit_strings: tuple[str, ...]) -> list[tuple[int, int]]:
    """_phone_spans of a stored number ("+" and ASCII digits): digit i is character i + 1,
    so the spans are sums instead of a walk over the characters (three or more numbers
    per hit on a phone query; the same spans: tests/unit/test_highlights_equivalence.py)."""
    stored = phone[1:]
    spans = []
    for digits in digit_strings:
        size = len(digits)
        if size > len(stored):
            continue
        if stored.endswith(digits):
            spans.append((len(phone) - size, len(phone)))
        else:
            at = stored.find(digits)
            if 0 <= at <= 3:
                spans.append((at + 1, at + 1 + size))
    return spans


def highlights(contact: dict, parsed: ParsedQuery) -> list[dict]:
    """[{"field", "value", "spans": [{"start", "end"}]}] for each field the query matched."""
    if parsed.is_empty:
        return []
    words, joined_words, digit_strings, email_words = _plan(parsed)
    result = []
    for field in TEXT_FIELDS:
        value = contact.get(field)
        if not value:
            continue
        spans = []
        tokens = _tokens(value)
        for start, end, token in tokens:
            for word, is_last in words:
                size = _word_span(word, token, is_last=is_last)
                if size:
                    # Folding may lengthen a letter (ß -> ss): stay inside the token.
                    spans.append((start, min(start + size, end)))
        if not spans:
            spans = _joined_spans(tokens, joined_words)
        if spans:
            result.append({"field": field, "value": value, "spans": _merge(spans)})
    if contact.get("phone") and digit_strings:
        spans = _phone_spans(contact["phone"], digit_strings)
        if spans:
            result.append({"field": "phone", "value": contact["phone"], "spans": _merge(spans)})
    if digit_strings:
        _secondary_phones(contact, digit_strings, result)
    if email_words:
        _secondary_emails(contact, email_words, result)
    return result


def _secondary_phones(contact: dict, digit_strings: tuple[str, ...], result: list) -> None:
    """A `phones` entry for each number other than the primary that the digits match."""
    entries = contact.get("phones") or ()
    if len(entries) < 2:
        return
    primary = contact.get("phone")
    for index, entry in enumerate(entries):
        number = entry.get("number")
        if not number or number == primary:
            continue
        if not any(digits in number for digits in digit_strings):
            continue  # a span needs the digits in the number, in one piece
        spans = _phone_spans(number, digit_strings)
        if spans:
            result.append(
                {"field": "phones", "index": index, "value": number, "spans": _merge(spans)}
            )


def _secondary_emails(contact: dict, email_words: tuple, result: list) -> None:
    """An `emails` entry for each address other than the primary where a query word's
    parts match, for the words whose every part some address of the contact holds."""
    entries = contact.get("emails") or ()
    if len(entries) < 2:
        return
    primary = contact.get("email")
    secondary = [
        (index, address, _email_text(address))
        for index, entry in enumerate(entries)
        if (address := entry.get("address")) and address != primary
    ]
    found: dict[int, list[tuple[int, int]]] = {}
    for word_parts in email_words:
        spans: list[tuple[int, int, int]] = []
        missing = []
        for wanted in word_parts:
            before = len(spans)
            for n, (_, address, text) in enumerate(secondary):
                if _SEP + wanted not in text:
                    continue  # no part of this address starts with it
                for start, end, part in _email_parts(address):
                    if _part_matches(part, wanted):
                        # Folding may lengthen a letter (ß -> ss): stay inside the part.
                        spans.append((n, start, min(start + len(wanted), end)))
            if len(spans) == before:
                missing.append(wanted)
        # Operator "and": the engine's email clause matched the word only if the parts
        # no secondary address holds are in the primary one.
        if spans and all(_holds(primary, wanted) for wanted in missing):
            for n, start, end in spans:
                found.setdefault(n, []).append((start, end))
    for n in sorted(found):
        index, address, _ = secondary[n]
        result.append(
            {"field": "emails", "index": index, "value": address, "spans": _merge(found[n])}
        )


def _holds(address: str | None, wanted: str) -> bool:
    """Whether the engine's email clause finds the part `wanted` in this address."""
    if not address:
        return False
    return any(_part_matches(part, wanted) for _, _, part in _email_parts(address))


def _part_matches(part: str, wanted: str) -> bool:
    """The email clause's rule for one part: the whole part, or its start while the
    email_prefix analyzer's edge n-grams reach (no typos)."""
    return part == wanted or (len(wanted) <= EMAIL_PREFIX_CHARS and part.startswith(wanted))


def _email_text(address: str) -> str:
    """The address's folded parts, each behind _SEP: a part starts with a word only where
    _SEP + word occurs, so one substring test rules out most addresses before any part
    is located. An ASCII address folds by lowercasing (no accent to strip, no letter
    that asciifolding lengthens): one substitution, no walk over its parts (a separator
    run leaves an empty part, which no word matches)."""
    if len(address) > MAX_MEMO_KEY_CHARS:
        return _scan_email_text(address)
    return _email_text_memo(address)


def _scan_email_text(address: str) -> str:
    if address.isascii():
        return _SEP + _EMAIL_SEPARATORS.sub(_SEP, address.lower())
    return "".join(_SEP + part for _, _, part in _email_parts(address))


def _email_parts(address: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, folded part) of each part of an address, split as the email_parts
    tokenizer splits it (the first MAX_TOKENS_PER_FIELD)."""
    if len(address) > MAX_MEMO_KEY_CHARS:
        return _scan_email_parts(address)
    return _email_parts_memo(address)


def _scan_email_parts(address: str) -> tuple[tuple[int, int, str], ...]:
    folded = str.lower if address.isascii() else fold
    found = []
    for match in _EMAIL_PART.finditer(address):
        found.append((match.start(), match.end(), folded(match.group())))
        if len(found) == MAX_TOKENS_PER_FIELD:
            break
    return tuple(found)


# A page meets the same addresses again on the next keystroke; bounded like the token memo.
_email_text_memo = functools.lru_cache(maxsize=TOKENS_MEMO_ENTRIES)(_scan_email_text)
_email_parts_memo = functools.lru_cache(maxsize=TOKENS_MEMO_ENTRIES)(_scan_email_parts)


@functools.lru_cache(maxsize=256)
def _plan(parsed: ParsedQuery) -> tuple[tuple, tuple[str, ...], tuple[str, ...], tuple]:
    """What every hit of one query is compared with, worked out once per query (a page
    has up to 100 hits; as-you-type sends the same query from many clients): the folded
    query words (flagged when last), the same for joined runs, the phone digits, and
    each word's parts as the email analyzer reads it (a word of more parts than
    MAX_QUERY_PARTS is left out: it cannot be checked whole, so it marks nothing)."""
    last = len(parsed.words) - 1
    words = tuple(
        (word, i == last)
        for i, raw in enumerate(parsed.words)
        for word in _TOKEN.findall(fold(raw))
    )[:MAX_QUERY_PARTS]
    digit_strings = parsed.phone or tuple(
        d
        for w in parsed.words
        if len(d := re.sub(r"\D", "", w)) >= 3 and not re.search(r"[^\W\d_]", w)
    )
    email_words = tuple(
        parts
        for raw in parsed.words
        if 0 < len(parts := tuple(fold(p) for p in _EMAIL_PART.findall(raw))) <= MAX_QUERY_PARTS
    )
    return words, tuple(word for word, _ in words), digit_strings, email_words
