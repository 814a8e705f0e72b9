"""libphonenumber's validity of a North American (+1) number, compiled to a digit trie.

The contract: `valid_national(ten_digits)` is exactly `phonenumbers.is_valid_number` of
"+1" + those digits, for every string of ten ASCII digits whose first is 2-9 (what an
E.164 North American number holds). It is the hot path of bulk DNC
checks (dialers send E.164 numbers by the thousand) and replaces running libphonenumber's
region choice and type patterns, about two hundred regular expressions across the 25
regions of calling code 1, once per number (docs/performance.md).

How the answer stays libphonenumber's. The library picks the number's region by the
region's `leading_digits` where it has them (the first region whose pattern matches at
the start decides), else by a full match of the general pattern and any number type, in
COUNTRY_CODE_TO_REGION_CODE order; a pattern counts only if its possible lengths admit
ten digits. Every one of those patterns is a finite language over the digits (the
metadata uses literals, digit classes, alternation and fixed repetition only), so this
module reads each pattern from the metadata with Python's own regex parser, walks all of
them at once over the ten digit positions (a breadth-first search whose states are the
sets of pattern positions still alive, so equal states are explored once) and evaluates
the library's decision at the tenth digit. Nodes with equal children are shared and a
node whose ten children are the same answer becomes that answer, so a lookup usually
stops after the area code and exchange. A pattern construct outside that subset raises
`Unsupported` at build time and the caller keeps the pattern-by-pattern path: never a
guess. tests/unit/test_nanp.py compares the trie with `is_valid_number` on hundreds of
thousands of numbers and on every completion of whole prefixes.

The trie is built once per process, in the background from the first call on (under a
second; it holds a few hundred shared nodes); until it is ready the caller answers with
the patterns themselves (app/phones.py).
"""

from __future__ import annotations

import os
import re._constants as sre
import re._parser as sre_parse
import threading

from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

NATIONAL_DIGITS = 10
TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_DIGITS = tuple(ord(d) for d in "0123456789")


class Unsupported(Exception):
    """A metadata pattern uses a construct this compiler does not read."""


def _flatten(parsed) -> tuple:
    """A parsed pattern as a tuple of steps: ("in", frozenset of digit codes) or
    ("or", tuple of alternatives), fixed repetitions unrolled."""
    steps: list = []
    for op, av in parsed:
        if op is sre.LITERAL:
            steps.append(("in", frozenset({av}) & frozenset(_DIGITS)))
        elif op is sre.IN:
            steps.append(("in", _digit_set(av)))
        elif op is sre.BRANCH:
            steps.append(("or", tuple(_flatten(alt) for alt in av[1])))
        elif op is sre.SUBPATTERN and not av[1] and not av[2]:
            steps.extend(_flatten(av[3]))
        elif op is sre.MAX_REPEAT and av[0] == av[1]:
            steps.extend(_flatten(av[2]) * av[0])
        else:
            raise Unsupported(f"{op} {av!r}")
    return tuple(steps)


def _digit_set(items) -> frozenset:
    found: set[int] = set()
    for op, av in items:
        if op is sre.LITERAL:
            found.add(av)
        elif op is sre.RANGE:
            found.update(range(av[0], av[1] + 1))
        elif op is sre.CATEGORY and av is sre.CATEGORY_DIGIT:
            found.update(_DIGITS)  # only ASCII digits are ever fed to the trie
        else:
            raise Unsupported(f"{op} {av!r}")
    return frozenset(found) & frozenset(_DIGITS)


def _closure(stack: tuple, out: set) -> bool:
    """Add to `out` the digit-consuming positions reachable from `stack` without input;
    True if the pattern can end here. A position is a stack of (steps, index) frames."""
    if not stack:
        return True
    steps, i = stack[-1]
    if i == len(steps):
        return _closure(stack[:-1], out)
    kind, value = steps[i]
    if kind == "in":
        out.add(stack)
        return False
    rest = stack[:-1] + ((steps, i + 1),)
    accepts = False
    for alternative in value:
        accepts |= _closure(rest + ((alternative, 0),), out)
    return accepts


class _Pattern:
    """One pattern as a lazily built DFA over the digits: a state is a number standing for
    the set of pattern positions still alive; state 0 is the start."""

    def __init__(self, text: str) -> None:
        self.steps = _flatten(sre_parse.parse(text))
        positions: set = set()
        self.start_accepts = _closure(((self.steps, 0),), positions)
        self._states: list[frozenset] = []
        self._ids: dict[frozenset, int] = {}
        self._moves: dict[tuple[int, int], tuple[int | None, bool]] = {}
        self.start = self._id(frozenset(positions))

    def _id(self, positions: frozenset) -> int | None:
        if not positions:
            return None  # dead: no completion can match
        if positions not in self._ids:
            self._ids[positions] = len(self._states)
            self._states.append(positions)
        return self._ids[positions]

    def advance(self, state: int, digit: int) -> tuple[int | None, bool]:
        """The state after `digit` (None: dead), and whether the pattern can end there."""
        move = self._moves.get((state, digit))
        if move is None:
            out: set = set()
            accepts = False
            for stack in self._states[state]:
                steps, i = stack[-1]
                if digit in steps[i][1]:
                    accepts |= _closure(stack[:-1] + ((steps, i + 1),), out)
            move = self._moves[state, digit] = (self._id(frozenset(out)), accepts)
        return move


def _desc_pattern(desc) -> str | None:
    """A number description's pattern if it may match ten digits, else None."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = set(desc.possible_length)
    if lengths and NATIONAL_DIGITS not in lengths:
        return None
    return desc.national_number_pattern


def _regions() -> tuple[list[_Pattern], list[tuple[int | None, int | None, tuple[int, ...]]]]:
    """Every pattern, and per region (in the library's order) the indices of its leading
    pattern, general pattern and type patterns (None: it has none that can match)."""
    patterns: list[_Pattern] = []

    def add(text: str | None) -> int | None:
        if text is None:
            return None
        patterns.append(_Pattern(text))
        return len(patterns) - 1

    regions = []
    for region in COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region)
        leading = add(metadata.leading_digits) if metadata.leading_digits else None
        general = add(_desc_pattern(metadata.general_desc))
        types = tuple(
            i
            for i in (add(_desc_pattern(getattr(metadata, d))) for d in TYPE_DESCS)
            if i is not None
        )
        regions.append((leading, general, types))
    return patterns, regions


def _decide(regions, ended: set[int], led: set[int]) -> bool:
    """libphonenumber's verdict once all ten digits are read: `ended` holds the patterns
    that match the whole number, `led` the leading patterns that matched a prefix."""

    def has_type(general, types) -> bool:
        return general in ended and any(t in ended for t in types)

    for leading, general, types in regions:
        if leading is not None:
            if leading in led:
                return has_type(general, types)
        elif has_type(general, types):
            return True
    return False


def build():
    """The trie: nested 10-tuples indexed by digit, with True/False leaves."""
    patterns, regions = _regions()
    leading_ids = {r[0] for r in regions if r[0] is not None}
    # A state: the live positions per pattern, and the leading patterns already matched.
    start_live = tuple((i, p.start) for i, p in enumerate(patterns) if p.start is not None)
    start_led = frozenset(i for i in leading_ids if patterns[i].start_accepts)
    level = {(start_live, start_led): None}
    levels = [level]
    edges: list[dict] = []
    for depth in range(NATIONAL_DIGITS):
        nxt: dict = {}
        step: dict = {}
        for state in level:
            live, led = state
            children = []
            for digit in _DIGITS:
                new_live, ended, new_led = [], set(), set(led)
                for i, state_i in live:
                    moved, accepts = patterns[i].advance(state_i, digit)
                    if moved is not None:
                        new_live.append((i, moved))
                    if accepts:
                        if i in leading_ids:
                            new_led.add(i)
                        ended.add(i)
                if depth == NATIONAL_DIGITS - 1:
                    children.append(_decide(regions, ended, new_led))
                else:
                    child = (tuple(new_live), frozenset(new_led))
                    nxt.setdefault(child, None)
                    children.append(child)
            step[state] = children
        edges.append(step)
        level = nxt
        levels.append(level)
    # Bottom up: share equal nodes, fold a node of ten equal leaves into the leaf.
    shared: dict = {}
    below: dict = {}
    for depth in range(NATIONAL_DIGITS - 1, -1, -1):
        made = {}
        for state, children in edges[depth].items():
            kids = tuple(c if isinstance(c, bool) else below[c] for c in children)
            if all(k is kids[0] for k in kids) and isinstance(kids[0], bool):
                made[state] = kids[0]
            else:
                made[state] = shared.setdefault(kids, kids)
        below = made
    return below[(start_live, start_led)]


_ROOT = None
# The process whose first call started the build: a child forked before the build ended
# (a work horse, a preloading server) has no builder thread and starts its own. No lock:
# a fork could copy it held; two racing first calls build twice, harmlessly.
_BUILDING_IN: int | None = None


def _build_root() -> None:
    global _ROOT
    _ROOT = build()


def trie():
    """The process's trie, built now if no build has finished yet."""
    if _ROOT is None:
        _build_root()
    return _ROOT


def valid_national(national: str) -> bool | None:
    """phonenumbers.is_valid_number of "+1" + `national` (ten ASCII digits, the first
    2-9), or None until the trie is built: the first call starts its build in a daemon
    thread, so no request waits for it, and the caller answers with the patterns."""
    global _BUILDING_IN
    node = _ROOT
    if node is None:
        if _BUILDING_IN != os.getpid():
            _BUILDING_IN = os.getpid()
            threading.Thread(target=_build_root, name="nanp-trie", daemon=True).start()
        return None
    for ch in national:
        node = node[ord(ch) - 48]
        if node is True or node is False:
            return node
    return node
