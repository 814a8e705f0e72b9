"""The compiled North American trie (app/nanp.py) gives libphonenumber's answer, always."""

from __future__ import annotations

import random
import re._parser as sre_parse

import phonenumbers
import pytest

from app import nanp
from app.phones import _valid_nanp_by_patterns, to_e164


@pytest.fixture(scope="module")
def root():
    return nanp.trie()


def library(national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
    return phonenumbers.is_valid_number(number)


def walk(root, national: str) -> bool:
    node = root
    for ch in national:
        node = node[ord(ch) - 48]
        if isinstance(node, bool):
            return node
    return node


def mixed_prefixes(root, depth: int) -> list[str]:
    """Prefixes of `depth` digits (first 2-9) under which the answer still varies."""
    found, frontier = [], [("", root)]
    while frontier:
        prefix, node = frontier.pop()
        if isinstance(node, bool):
            continue
        if len(prefix) == depth:
            found.append(prefix)
            continue
        for digit in range(2 if not prefix else 0, 10):
            frontier.append((prefix + str(digit), node[digit]))
    return sorted(found)


def test_the_trie_agrees_with_libphonenumber_on_random_numbers(root):
    rng = random.Random(1414)
    samples = [str(rng.randrange(2 * 10**9, 10**10)) for _ in range(60_000)]
    # Every area code with several exchanges: each of the 25 regions' rules is reached.
    samples += [f"{npa}{rng.randrange(10**7):07d}" for npa in range(200, 1000) for _ in range(25)]
    for national in samples:
        assert walk(root, national) == library(national), national


def test_the_trie_agrees_with_the_precompiled_patterns_on_hundreds_of_thousands(root):
    """The patterns path is itself held to the library (tests/unit/test_phones.py); here
    300,000 numbers, any area code, exchange and line number."""
    rng = random.Random(2626)
    for _ in range(300_000):
        national = str(rng.randrange(2 * 10**9, 10**10))
        assert walk(root, national) == _valid_nanp_by_patterns(national), national


def test_every_completion_of_the_prefixes_where_the_answer_is_decided_late(root):
    """Whole prefixes, exhaustively: where the trie still branches after the exchange,
    all 10,000 line numbers of a sample of those exchanges, plus two that fold early."""
    late = mixed_prefixes(root, 6)
    assert late, "the metadata has exchanges decided by the line number"
    rng = random.Random(77)
    chosen = rng.sample(late, min(6, len(late))) + ["415555", "900200"]
    for prefix in chosen:
        for line in range(10_000):
            national = f"{prefix}{line:04d}"
            assert walk(root, national) == library(national), national


def test_numbers_in_e164_get_the_librarys_answer_before_and_after_the_build(root):
    rng = random.Random(5)
    nationals = ["4155550123", "2015550123", "9005550100", "6495550100", "8095550100"]
    nationals += [str(rng.randrange(2 * 10**9, 10**10)) for _ in range(2_000)]
    for national in nationals:
        assert nanp.valid_national(national) in (None, library(national)), national
        assert to_e164("+1" + national) == ("+1" + national if library(national) else None)


@pytest.mark.parametrize(
    "pattern",
    ["(?=2)2\\d{9}", "2\\d+", "2\\d{1,9}", "[^2]\\d{9}", "2.\\d{8}"],
)
def test_a_pattern_construct_it_does_not_read_is_refused_not_guessed(pattern):
    with pytest.raises(nanp.Unsupported):
        nanp._flatten(sre_parse.parse(pattern))


def test_a_process_forked_before_the_build_ended_builds_its_own_trie(monkeypatch):
    """The builder thread does not survive a fork: a child that inherited "building" from
    its parent's pid starts a build of its own instead of answering None forever."""
    import os
    import time

    monkeypatch.setattr(nanp, "_ROOT", None)
    monkeypatch.setattr(nanp, "_BUILDING_IN", os.getpid() + 1)  # the parent's pid
    assert nanp.valid_national("4155550123") is None
    assert nanp._BUILDING_IN == os.getpid()
    deadline = time.monotonic() + 60
    while nanp._ROOT is None and time.monotonic() < deadline:
        time.sleep(0.05)
    for national in ("4155550123", "2005550123", "9005550100", "6495550100"):
        assert nanp.valid_national(national) is library(national), national
