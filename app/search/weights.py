"""The score tiers and weights of contact search, and why they are spaced as they are.

Pure constants, read by the query builder (app/search/queries.py) and the highlighter
(app/search/highlights.py): how a word can match (exact, prefix, typo, spelling variant,
and the broadened pass's guesses), how much each field counts, the whole-query bonuses,
the tie-breaks that reorder equal scores only, and the edit budget by word length.
"""

from __future__ import annotations

# A word's score is the best (dis_max, no tie-breaker) of `tier * field weight` over every
# way it matches; the document's score is the sum over words plus the whole-name bonuses.
# Tiers are spaced so that even the lowest field weight keeps a tier above the next one
# (10 * 0.6 = 6 > 5, 5 * 0.6 = 3 > 2, 2 * 0.6 = 1.2 > 1): a typo can never outrank an
# exact match of the same word, whatever field either one lands in.
EXACT = 10.0  # the word is a whole token of the field ("smith" in "Smith")
PREFIX = 5.0  # the word starts a token ("smi" in "Smith"): the word being typed
FUZZY = 2.0  # the word is a whole token within the allowed edits ("smtih")
FUZZY_PREFIX = 1.0  # the word starts a token within the allowed edits ("smtih" in "Smithson")
# The same name in another spelling system (Mueller for Müller, Soerensen for Sørensen),
# or its particle split or joined (Vanderberg for van der Berg, OBrien for O'Brien):
# a different way to write the name, not a different name, so it counts like a typo.
SPELLING = FUZZY

# The broadened pass (see BROADEN_BELOW) adds the ways a caller misremembers a name.
# They are weaker than every match above in any field (FUZZY_PREFIX * EMAIL_WEIGHT =
# 0.6 > 0.5) and only ever apply to names (weight 1), each a step below the last, so a
# literal spelling always ranks first and the guesses in order of how sure they are.
SOUNDS_ALIKE = 0.5  # same Metaphone code: Smyth for Smith, Jeff for Geoff
NICKNAME = 0.3  # Bob for Robert and Robert for Bob (first names only)
FIRST_LETTER = 0.2  # all but the first letter: Catherine for Katherine, Cowalski for Kowalski
# One edit more than the strict pass allows a word of SHORT_WORD up to LONG_WORD letters
# (one in three letters, two in four to six; shorter words stay literal): as unsure as
# a wrong first letter, since most short strings are that close to many names.
EXTRA_EDIT = FIRST_LETTER
INITIAL = 0.1  # a stored initial ("J. Thornton") for a typed name, beside other words

# A tie-break of the broadened "first last" query (see _rarity_tie_breaks): the engine's
# BM25 score of an exact name word, scaled by this. Lucene's BM25 is at most the idf,
# ln(1 + 2N) < 22 for a shard of up to a billion documents, so the two clauses of two
# words add less than 2 * 22 * 0.001 = 0.044: below the smallest step between two sums
# of the weights here (0.1), so it reorders contacts that tie and nothing else.
RARITY = 0.001
# A tie-break of a one-word query: a contact with a first or a last name but not both
# ("Caitlin", "Durr") before the contacts whose name has a word the query lacks
# ("Caitlin Clarke", "Brooke Durbridge"), whichever way the word matched (exact, prefix,
# typo, guess): the query is more nearly the whole name. Below every step between two
# sums of the weights (0.1), like RARITY; the two never meet (RARITY needs two words).
LONE_NAME = 0.01

# Names are what people search for; a company hit is a little weaker (many contacts
# share a company), an email hit weaker still (local parts are often initials).
NAME_WEIGHT = 1.0
COMPANY_WEIGHT = 0.8
EMAIL_WEIGHT = 0.6
PHONE_WEIGHT = 1.0

# Whole-query bonuses, added on top of the per-word sum. They only ever reward exact
# tokens, so they can lift an exact match over another exact match, never a typo.
# The query is the person's whole name ("jane doe" for Jane Doe, either order): beats
# Jane Doe-Smith and Jane Dorothy Doe, whose names only contain the words.
FULL_NAME_BONUS = 6.0
# Every word is a token of the person's name: "john smith" prefers John Smith over a
# John who works at Smith Ltd.
ALL_IN_NAME_BONUS = 3.0
# The words appear in the typed order: "john smith" puts John Smith before Smith John.
PHRASE_BONUS = 1.0

# Edits allowed by word length: a short word must be typed right ("jo" must not find
# "al"), one edit for a medium word ("jhon"), two for a long one ("schmdit" -> "schmidt").
SHORT_WORD, LONG_WORD = 3, 7
# Typo-tolerant prefixes are noisy for short input ("mar" is one edit from every "ma..."),
# so the word being typed gets them only once it is this long.
MIN_FUZZY_PREFIX = 5
FUZZY_PREFIX_LENGTH = 1
# A wrong first letter is forgiven only in words this long: in shorter ones the rest is
# too little to be sure of ("ohn" is John, Kohn, Lohn ...).
MIN_FIRST_LETTER = 5
# Broaden only when the strict pass (exact, prefix, typo, spelling variants) finds no
# one: a guess must never push aside or pad a literal answer ("jon" finds Jon, never
# John), and the common query pays nothing for the guesses. The broadened pass costs a
# second request, only for queries that would otherwise answer nothing.
BROADEN_BELOW = 1
# The broadened pass lets one word of a query of this many words go unmatched.
RELAXED_WORDS = 2
# In the broadened "first last" query, a contact that both words match, however weakly
# (a sound-alike first name, a typo in the surname), outranks every contact that one
# word matches, however well: one word alone is at most EXACT (plus a RARITY tie-break
# under 0.1), two words at least 2 * INITIAL, so EXACT makes 10.2 > 10.044 (the order
# within each group is kept: the bonus is the same for all of it).
BOTH_WORDS_BONUS = EXACT
# The engine's default position_increment_gap between the values of a text field.
NAME_GAP = 100
