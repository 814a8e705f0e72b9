"""A check's rows (app/services/dnc_checks.py `check_rows`) are exactly the rows the
row-by-row build made before it, and `refused_reasons` is `validation_errors` for every
input the normalizer refused: same bytes on the wire for random, listed, duplicated and
hostile input."""

from __future__ import annotations

import random

import orjson
import pytest

from app import nanp
from app.phones import canonical_many, refused_reasons, validation_errors
from app.services.dnc_checks import check_rows
from app.services.dnc_rules import entry_of

HOSTILE = [
    "",
    "+",
    "+1",
    "+1415555012",
    "+141555501234",
    " +14155550123",
    "+14155550123 ",
    "+1 415 555 0123",
    "(415) 555-0123",
    "tel:+14155550123",
    "+１４１５５５５０１２３",  # fullwidth digits
    "+١٤١٥٥٥٥٠١٢٣",  # Arabic-Indic digits
    "+1415555\x000123",
    "+14155550l23",
    "0014155550123",
    "+442079460000",
    "+33 1 42 68 53 00",
    "+1" + "9" * 63,
    "+1" + "4" * 999,
    "ünïcødé \u202e",
    "\ud7ff",
    '"},{"dnc":false',
    "+10005550123",
    "+11235550123",
]


def reference_rows(raws, normalized, listed_set, details, region):
    """The row build check() used before check_rows (frozen copy)."""
    results = []
    for raw, phone in zip(raws, normalized, strict=True):
        if phone is None:
            results.append(
                {
                    "phone": raw,
                    "normalized": None,
                    "valid": False,
                    "dnc": None,
                    "reason": None,
                    "addedAt": None,
                    "match": None,
                    "validationErrors": validation_errors(raw, region),
                }
            )
            continue
        entry = entry_of(details[phone]) if phone in details else None
        results.append(
            {
                "phone": raw,
                "normalized": phone,
                "valid": True,
                "dnc": phone in listed_set,
                "reason": entry["reason"] if entry else None,
                "addedAt": entry["addedAt"] if entry else None,
                "match": entry if phone in listed_set else None,
            }
        )
    listed = sum(r["dnc"] is True for r in results)
    invalid = sum(not r["valid"] for r in results)
    return results, listed, invalid


def source_of(workspace: str, phone: str, rng: random.Random) -> dict:
    """A stored entry as the record holds it: a number's own, or a rule's."""
    kind = rng.choice(["exact", "exact", "prefix", "scoped", "expiring"])
    source = {
        "workspaceId": workspace,
        "phone": phone,
        "reason": rng.choice([None, "litigator", "ünïcødé", "x" * 500, '"}]']),
        "source": rng.choice([None, "agent", "import"]),
        "addedAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-02T00:00:00.000Z",
    }
    if kind == "prefix":
        source.update(rule="prefix", prefix=phone[: rng.randrange(3, 8)])
        del source["phone"]
    elif kind == "scoped":
        source.update(scope="spring-promo", channel=rng.choice(["calls", "sms", "all"]))
    elif kind == "expiring":
        source.update(expiresAt="2030-01-01T00:00:00.000Z")
    return source


def batches(seed: int):
    rng = random.Random(seed)
    nanp.trie()
    for _ in range(40):
        size = rng.choice([1, 2, 10, 300, 1_000])
        raws = [
            f"+1{rng.randrange(200, 1000)}{rng.randrange(100, 1000)}{rng.randrange(10_000):04d}"
            for _ in range(size)
        ]
        raws += rng.sample(HOSTILE, rng.randrange(0, len(HOSTILE)))
        raws += [rng.choice(raws) for _ in range(rng.randrange(0, 20))]  # repeats
        rng.shuffle(raws)
        region = rng.choice(["US", "GB", "DE", "CA"])
        normalized = canonical_many(raws, region)
        valid = sorted({p for p in normalized if p})
        listed = {p for p in valid if rng.random() < 0.2}
        # Entries: most listed numbers have theirs, some none (the record did not answer),
        # and now and then one for a number the cache did not decide listed.
        details = {p: source_of("ws_rows", p, rng) for p in sorted(listed) if rng.random() < 0.8}
        for p in valid:
            if rng.random() < 0.02:
                details[p] = source_of("ws_rows", p, rng)
        yield raws, normalized, listed, details, region


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_check_rows_are_byte_for_byte_the_row_by_row_build(seed):
    compared = 0
    for raws, normalized, listed, details, region in batches(seed):
        fast = check_rows(raws, normalized, listed, details, region)
        slow = reference_rows(raws, normalized, listed, details, region)
        assert fast[1:] == slow[1:]
        assert orjson.dumps(fast[0]) == orjson.dumps(slow[0])
        compared += len(raws)
    assert compared > 10_000


def test_a_check_of_nothing_but_hostile_input_has_only_invalid_rows():
    normalized = canonical_many(HOSTILE, "US")
    rows, listed, invalid = check_rows(HOSTILE, normalized, set(), {}, "US")
    assert listed == 0 and invalid == sum(p is None for p in normalized) > 10
    assert [r["phone"] for r in rows] == HOSTILE
    assert all(r["dnc"] is None for r in rows if not r["valid"])


def test_refused_reasons_are_validation_errors_for_every_refused_input():
    nanp.trie()
    rng = random.Random(21)
    raws = [f"+1{rng.randrange(10**10):010d}" for _ in range(20_000)]
    raws += [f"+1{rng.randrange(2 * 10**9, 10**10)}" for _ in range(5_000)]
    raws += HOSTILE
    for region in ("US", "GB"):
        refused = [r for r, p in zip(raws, canonical_many(raws, region), strict=True) if not p]
        assert len(refused) > 10_000
        for raw in refused:
            assert refused_reasons(raw, region) == validation_errors(raw, region), raw
