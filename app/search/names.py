"""How a first or last name may be misremembered: sounds, nicknames, particles.

Pure functions over folded (lowercase, accent-free) words, shared by the document
builder (what a contact's name is indexed as) and the query builder (what a typed word
may stand for), so both sides always agree.

- Sounds: the Metaphone code of each name word (jellyfish, a maintained Rust
  implementation). Computed here rather than by the engine's analysis-phonetic plugin so
  the index needs nothing beyond the stock modules (any managed cluster, any node of
  ours, no restart to add a plugin), and so the same code encodes the document and the
  query. Metaphone over Double Metaphone: one code per word keeps one term per word,
  and the names the second code adds (Schmidt ~ Smith) are mostly within the typo
  budget already.
- Nicknames: the hand-curated English data set of the `nicknames` package, both ways
  (Bob -> Robert and Robert -> Bob), plus a short supplement for other languages
  (nicknames_more.json), which no maintained package covers.
- Particles: the words that start surnames and are typed split or joined
  ("van der berg" / "vanderberg", "mc donald" / "mcdonald", "o neill" / "o'neill").
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from pathlib import Path

import jellyfish
from nicknames import NickNamer

PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "da", "di", "del", "della", "la", "le", "mc", "mac", "o"}
)
# A nickname group past this size is a vague one ("al" -> 14 names): keep the literal
# cost of the query bounded and its meaning sharp.
MAX_NICKNAMES = 16
# Codes of shorter words match too much ("al" ~ "el" ~ "ole").
MIN_SOUND_CHARS = 3
# The sound codes of a whole name are remembered per name string: contact lists repeat
# first and last names a great deal (a 1,000-item batch or an import chunk meets a few
# hundred distinct ones), and folding and encoding a name is most of a document's Python
# cost (docs/performance.md). Bounded: names longer than NAME_MEMO_CHARS are computed
# each time, so the memo holds at most about NAME_MEMO * 300 bytes (~10 MB).
NAME_MEMO = 32_768
NAME_MEMO_CHARS = 64

_WORD = re.compile(r"[^\W\d_]+")
_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d"})
_MORE = Path(__file__).with_name("nicknames_more.json")


def fold(text: str) -> str:
    """Lowercase, accents off, apostrophes dropped: what the name analyzers index."""
    text = text.lower().translate(_SPECIAL).replace("'", "").replace("\u2019", "")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words_of(name: str | None) -> list[str]:
    return _WORD.findall(fold(name)) if name else []


@functools.lru_cache(maxsize=32_768)
def sound(word: str) -> str | None:
    """The Metaphone code of one folded word, or None for a word too short to carry one."""
    if len(word) < MIN_SOUND_CHARS or not word.isalpha():
        return None
    return jellyfish.metaphone(word) or None


def sounds_of(name: str | None) -> list[str]:
    """The codes of every word of a name (indexed beside it as keywords)."""
    if not name:
        return []
    if isinstance(name, str) and len(name) <= NAME_MEMO_CHARS:
        return list(_remembered_sounds(name))
    return _sounds(name)


@functools.lru_cache(maxsize=NAME_MEMO)
def _remembered_sounds(name: str) -> tuple[str, ...]:
    return tuple(_sounds(name))


def _sounds(name: str) -> list[str]:
    return list(dict.fromkeys(c for w in words_of(name) if (c := sound(w))))


@functools.cache
def _namer() -> NickNamer:
    return NickNamer()


@functools.cache
def _more() -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for group in json.loads(_MORE.read_text())["groups"]:
        for name in group:
            groups.setdefault(name, set()).update(n for n in group if n != name)
    return {name: frozenset(others) for name, others in groups.items()}


@functools.lru_cache(maxsize=16_384)
def nicknames(word: str) -> tuple[str, ...]:
    """Names the word may stand for, and names that stand for it (never the word itself)."""
    namer = _namer()
    found = set(namer.canonicals_of(word)) | set(namer.nicknames_of(word))
    found |= _more().get(word, frozenset())
    found.discard(word)
    # Multi-word entries ("mary ann") cannot meet one token; drop them.
    names = sorted(n for n in found if n.isalpha())
    return tuple(names) if len(names) <= MAX_NICKNAMES else ()


def is_particle(word: str) -> bool:
    return fold(word).strip(".") in PARTICLES
