"""Pure builders of the contact search request body: no I/O, only dicts in and out.

Scoring is deliberately *not* BM25. Every way a word can match is wrapped in
`constant_score` with a fixed weight, so the order of results depends on how a word
matched (exact, prefix, typo) and where (name, company, email, phone), never on how
rare a name is in a workspace. That makes "exact beats prefix beats typo" hold for every
workspace, and the ties fall to the deterministic sort (updatedAt, then id). Two bounded
tie-breaks reorder contacts whose scores are otherwise equal, and nothing else: RARITY
(the rarer word, broadened "first last" only) and LONE_NAME (a one-word query prefers a
contact whose name is that one word).

How the typed text is read (words, a phone number, joined readings) is
app/search/readings.py; the unscored parts of the request are app/search/filters.py and
app/search/sorts.py; the tiers, weights and bonuses, and why they are spaced as they are,
are app/search/weights.py. This module scores and assembles the request body.
"""

from __future__ import annotations

from app.phones import digits as digits_of
from app.search import names
from app.search.filters import build_filters
from app.search.readings import (
    MIN_PHONE_DIGITS,
    PHONE_LIKE,
    ParsedQuery,
    joined_at,
    joined_readings,
    name_word,
    particle_groups,
)
from app.search.sorts import build_sort
from app.search.weights import (
    ALL_IN_NAME_BONUS,
    BOTH_WORDS_BONUS,
    BROADEN_BELOW,
    COMPANY_WEIGHT,
    EMAIL_WEIGHT,
    EXACT,
    EXTRA_EDIT,
    FIRST_LETTER,
    FULL_NAME_BONUS,
    FUZZY,
    FUZZY_PREFIX,
    FUZZY_PREFIX_LENGTH,
    INITIAL,
    LONE_NAME,
    LONG_WORD,
    MIN_FIRST_LETTER,
    MIN_FUZZY_PREFIX,
    NAME_GAP,
    NAME_WEIGHT,
    NICKNAME,
    PHONE_WEIGHT,
    PHRASE_BONUS,
    PREFIX,
    RARITY,
    RELAXED_WORDS,
    SHORT_WORD,
    SOUNDS_ALIKE,
    SPELLING,
)

TEXT_FIELDS = (
    # (exact field, prefix subfield, weight, typo tolerant)
    ("firstName", "firstName.prefix", NAME_WEIGHT, True),
    ("lastName", "lastName.prefix", NAME_WEIGHT, True),
    ("company", "company.prefix", COMPANY_WEIGHT, True),
    # Email local parts are mostly unique strings: fuzzy expansion over them costs much
    # and finds little, so emails match exactly or by prefix only. Every address of the
    # contact (`emailAddresses`, the primary among them), not only the primary one.
    ("emailAddresses.text", "emailAddresses.prefix", EMAIL_WEIGHT, False),
)


def fuzziness_for(word: str) -> int:
    """Edits allowed for a word of this length.

    None for digits (numbers have no typos) nor for addresses and domains ("@", "."):
    those are copied, not typed from memory, and expanding a long dotted token by two
    edits over every n-gram is the costliest clause there is.
    """
    if any(ch.isdigit() or ch in "@." for ch in word):
        return 0
    length = len(word)
    if length <= SHORT_WORD:
        return 0
    return 1 if length < LONG_WORD else 2


def _scored(query: dict, score: float) -> dict:
    return {"constant_score": {"filter": query, "boost": round(score, 3)}}


def _match(field: str, text: str, **options) -> dict:
    # operator "and": a word that analyzes to several tokens ("jane.doe@x.io") must match
    # all of them in the one field, like a single word would.
    if "fuzziness" in options:
        # The first letter must be right: people rarely miss it, and fixing it keeps the
        # fuzzy expansion to one branch of the term dictionary (the cost of typo search).
        options.setdefault("prefix_length", FUZZY_PREFIX_LENGTH)
    return {"match": {field: {"query": text, "operator": "and", **options}}}


def _phone_clauses(digits: str) -> list[dict]:
    # A whole number typed in any format, its beginning ("(415) 555", "+1 415") or its
    # end ("5551234", the last four "1234"); prefix and suffix are equally likely intents.
    clauses = [_scored(_match("phoneDigits", digits), EXACT * PHONE_WEIGHT)]
    if len(digits) >= MIN_PHONE_DIGITS:
        clauses.append(_scored(_match("phoneDigits.prefix", digits), PREFIX * PHONE_WEIGHT))
        clauses.append(_scored(_match("phoneDigits.suffix", digits), PREFIX * PHONE_WEIGHT))
    return clauses


def _guesses(token: str, *, initials: bool) -> list[dict]:
    """The broadened pass: ways one name word may be misremembered, weakest last."""
    clauses = []
    for field in ("firstName", "lastName"):
        code = names.sound(token)
        if code:
            clauses.append(_scored({"term": {f"{field}Sounds": code}}, SOUNDS_ALIKE))
        if len(token) >= MIN_FIRST_LETTER:
            clauses.append(_scored(_match(f"{field}.tail", token), FIRST_LETTER))
        if SHORT_WORD <= len(token) < LONG_WORD:
            # One slip past the strict budget: "loe" for Lowe, "wli" for Wil (one edit in
            # three letters, whole or started), "tomson" for Thompson (two in six).
            edits = fuzziness_for(token) + 1
            clauses.append(_scored(_match(field, token, fuzziness=edits), EXTRA_EDIT))
            if len(token) == SHORT_WORD:
                prefix = _match(f"{field}.prefix", token, fuzziness=edits)
                clauses.append(_scored(prefix, EXTRA_EDIT))
        if initials and len(token) > 1:
            clauses.append(_scored({"term": {field: token[0]}}, INITIAL))
    nicknames = names.nicknames(token)
    if nicknames:
        clauses.append(_scored({"terms": {"firstName": list(nicknames)}}, NICKNAME))
    return clauses


def build_word_query(
    word: str,
    *,
    is_last: bool,
    broaden: bool = False,
    initials: bool = False,
    max_edits: int = 2,
) -> dict:
    """Every way one word may match, scored by the best of them.

    broaden adds the guesses (sounds, nicknames, first letter, initials); initials only
    when other words of the query pin the person down.
    """
    clauses: list[dict] = []
    edits = min(fuzziness_for(word), max_edits)
    for field, prefix_field, weight, typo_tolerant in TEXT_FIELDS:
        clauses.append(_scored(_match(field, word), EXACT * weight))
        # Every word may be a prefix ("joh smi"), not only the last one.
        clauses.append(_scored(_match(prefix_field, word), PREFIX * weight))
        if typo_tolerant and edits:
            clauses.append(_scored(_match(field, word, fuzziness=edits), FUZZY * weight))
            # A typo inside the word being typed: fuzzy against the edge n-grams.
            if is_last and len(word) >= MIN_FUZZY_PREFIX:
                clauses.append(
                    _scored(_match(prefix_field, word, fuzziness=edits), FUZZY_PREFIX * weight)
                )
    token = name_word(word)
    if token:
        for field in ("firstName", "lastName"):
            clauses.append(_scored(_match(f"{field}.variants", word), SPELLING * NAME_WEIGHT))
        if broaden:
            clauses += _guesses(token, initials=initials)
    # The whole address typed: the keyword field, lowercased like the stored value.
    if "@" in word:
        clauses.append(
            {
                "constant_score": {
                    "filter": {"term": {"emailAddresses": word.lower()}},
                    "boost": EXACT,
                }
            }
        )
    digits = digits_of(word)
    if len(digits) >= MIN_PHONE_DIGITS and PHONE_LIKE.match(word):
        clauses += _phone_clauses(digits)
    return {"dis_max": {"queries": clauses, "tie_breaker": 0.0}}


def _rarity_tie_breaks(words: tuple[str, ...]) -> list[dict]:
    """Among contacts that match one word of "first last" equally well, the rarer word first.

    The one place the engine's term statistics count: when only one of two words
    matched, a rarer name is the likelier person (three Dixons and one Channing for
    "channing dixon": the Channing is one person, each Dixon a third of one). Counted
    over the whole name (fullName), not per field: Campbell the surname makes Campbell
    the first name no rarer. The statistics are the shard's (every workspace routed
    there), a proxy for the workspace's that is good enough to order a tie. Bounded by
    RARITY, so it orders ties only, never a tier.
    """
    return [
        {"match": {"fullName": {"query": word, "operator": "and", "boost": RARITY}}}
        for word in words
    ]


def build_text_query(parsed: ParsedQuery, *, broaden: bool = False) -> dict | None:
    """The scored part of the search; None for an empty query (a filtered listing)."""
    if parsed.phone:
        return {"dis_max": {"queries": [c for d in parsed.phone for c in _phone_clauses(d)]}}
    if not parsed.words:
        return None
    as_typed = _words_query(parsed.words, broaden=broaden)
    rejoined = joined_readings(parsed.words) if broaden else []
    if not rejoined:
        return as_typed
    # A name typed with a stray space ("ja ck matthews", "natasha crossm an"): the words
    # as typed, or with one pair of neighbours joined back into one word, whichever
    # reading matches best. Each reading is scored like a query typed that way, so the
    # tiers keep their order inside it, but literally (no guesses) and with at most one
    # edit per word: the stray space was the slip, and a longer joined word must not buy
    # two edits ('"john" AND smith' is not Johnny Smithers).
    # A reading of two words is relaxed like a typed "first last" (one of the two may be
    # wholly wrong: "jord an blake" for Jordan Thaba), still without guesses, as long as
    # the joined word matches: the stray space is the reading's premise ('"john" AND
    # smith' reads "johnand smith", which must not find every Smith).
    readings = [
        _words_query(words, broaden=False, max_edits=1, anchor=joined_at(parsed.words, words))
        for words in rejoined
    ]
    return {"dis_max": {"queries": [as_typed, *readings], "tie_breaker": 0.0}}


def _lone_name() -> dict:
    """Contacts with exactly one of the two name fields (see LONE_NAME)."""
    return {
        "bool": {
            "should": [
                {"bool": {"filter": [{"exists": {"field": has}}],
                          "must_not": [{"exists": {"field": lacks}}]}}
                for has, lacks in (("firstName", "lastName"), ("lastName", "firstName"))
            ],
            "minimum_should_match": 1,
        }
    }  # fmt: skip


def _words_query(
    words: tuple[str, ...], *, broaden: bool, max_edits: int = 2, anchor: int | None = None
) -> dict:
    """All the words, each matched some way. A "first last" query lets one of its two
    words go unmatched when broadened, or, given an anchor (a word position), the word
    that is not the anchor."""
    last = len(words) - 1
    initials = broaden and len(words) > 1
    must = []
    groups = particle_groups(words)
    for group in groups:
        word_queries = [
            build_word_query(
                words[i], is_last=i == last, broaden=broaden, initials=initials, max_edits=max_edits
            )
            for i in group
        ]
        if len(group) == 1:
            must.append(word_queries[0])
            continue
        # "mc donald" may be McDonald and "vanderberg" van der Berg: the words one by one,
        # or all of them joined as one token of the name (scored as a spelling variant of
        # each word, so it never beats the words found one by one).
        joined = "".join(names.fold(words[i]) for i in group)
        together = [
            _scored(_match(f"{field}.variants", joined), SPELLING * len(group))
            for field in ("firstName", "lastName")
        ]
        must.append({"dis_max": {"queries": [{"bool": {"must": word_queries}}, *together]}})
    relaxed = (broaden or anchor is not None) and len(must) == RELAXED_WORDS
    optional = []
    if relaxed:
        # "first last" with one of the two wholly wrong (another first name, a garbled
        # surname): either may match alone, and a contact matching both still ranks
        # first (the scores add). Longer queries keep every word: their words are more
        # often deliberate ('"john" AND smith' must not find John Smith).
        both = _scored({"bool": {"must": must}}, BOTH_WORDS_BONUS)
        if anchor is None:
            must = [{"bool": {"should": [*must, both], "minimum_should_match": 1}}]
        else:
            # The same scores, but the anchor's group must match.
            at = next(n for n, group in enumerate(groups) if anchor in group)
            optional = [both, *(query for n, query in enumerate(must) if n != at)]
            must = [must[at]]
    text = " ".join(words)
    orders = dict.fromkeys([text, " ".join(reversed(words))])
    should = [_scored(_match("fullNameExact", name), FULL_NAME_BONUS) for name in orders]
    should += optional
    if relaxed:
        should += _rarity_tie_breaks(words)
    should.append(_scored(_match("fullName", text), ALL_IN_NAME_BONUS))
    if len(words) == 1 and name_word(words[0]):
        should.append(_scored(_lone_name(), LONE_NAME))
    if len(words) > 1:
        # fullName is copied from two values, and the engine puts a position gap of 100
        # between them (a last name starts 101 positions after the first name's last
        # word): a slop of exactly the gap lets "jane doe" span first -> last name in the
        # typed order, while a reversed order or a word in between stays out.
        phrase = {"match_phrase": {"fullName": {"query": text, "slop": NAME_GAP}}}
        should.append(_scored(phrase, PHRASE_BONUS))
    return {"bool": {"must": must, "should": should}}


# Index-only fields, never returned.
DERIVED_FIELDS = (
    "phoneDigits",
    "emailAddresses",
    "fullNameExact",
    "firstNameSounds",
    "lastNameSounds",
)


def should_broaden(parsed: ParsedQuery, strict_total: int) -> bool:
    """Whether to run the broadened pass after a strict pass that found strict_total."""
    return bool(parsed.words) and strict_total < BROADEN_BELOW


def broaden_body(body: dict, parsed: ParsedQuery) -> dict:
    """The same request (filters, sort, page) with the broadened text query."""
    query = {"bool": {**body["query"]["bool"], "must": [build_text_query(parsed, broaden=True)]}}
    return {**body, "query": query}


def build_search_body(
    workspace_id: str,
    parsed: ParsedQuery,
    filters: dict | None,
    *,
    sort: str | None,
    size: int,
    offset: int = 0,
    search_after: list | None = None,
    track_total_hits: int | bool = 10_000,
    broaden: bool = False,
) -> dict:
    """The whole request body (no index, no routing, no point in time)."""
    text_query = build_text_query(parsed, broaden=broaden)
    query: dict = {"bool": {"filter": build_filters(workspace_id, filters)}}
    if text_query:
        query["bool"]["must"] = [text_query]
    body: dict = {
        "query": query,
        "sort": build_sort(sort, has_query=text_query is not None),
        "size": size,
        "track_total_hits": track_total_hits,
        "_source": {"excludes": [*DERIVED_FIELDS]},
    }
    if search_after is not None:
        body["search_after"] = search_after
    elif offset:
        body["from"] = offset
    return body
