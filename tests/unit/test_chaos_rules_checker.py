"""The chaos checker's rule for prefix entries and expiry, on hand-written histories."""

from __future__ import annotations

from tests.chaos.checker import check
from tests.chaos.history import History

N = "+14155550123"
RULE = f"{N}#+141555501"


def violations(*ops) -> list:
    h = History()
    for kind, key, invoke, complete, outcome, detail in ops:
        h.record("c", kind, key, invoke, complete, outcome, **detail)
    return check(h.ops())["violations"]


def test_a_prefix_rule_obliges_reads_of_the_numbers_it_covers():
    found = violations(
        ("add", RULE, 1.0, 2.0, "ok", {}),
        ("read", N, 3.0, 3.1, "callable", {}),
    )
    assert len(found) == 1 and found[0].add.key == RULE


def test_deleting_the_number_does_not_excuse_a_prefix_rule_that_still_lists_it():
    found = violations(
        ("add", N, 0.5, 0.8, "ok", {}),
        ("add", RULE, 1.0, 2.0, "ok", {}),
        ("delete", N, 2.5, 2.6, "ok", {}),
        ("read", N, 3.0, 3.1, "callable", {}),
    )
    assert len(found) == 1


def test_deleting_the_rule_excuses_its_numbers():
    assert (
        violations(
            ("add", RULE, 1.0, 2.0, "ok", {}),
            ("delete", RULE, 2.5, 2.6, "ok", {}),
            ("read", N, 3.0, 3.1, "callable", {}),
        )
        == []
    )


def test_callable_before_the_expiry_is_a_violation_and_after_it_is_not():
    add = ("add", RULE, 1.0, 2.0, "ok", {"expires": 5.0})
    assert len(violations(add, ("read", N, 4.0, 4.9, "callable", {}))) == 1
    assert violations(add, ("read", N, 4.5, 5.0, "callable", {})) == []


def test_a_later_add_with_an_earlier_expiry_ends_the_obligation_early():
    assert (
        violations(
            ("add", RULE, 1.0, 2.0, "ok", {"expires": 50.0}),
            ("add", RULE, 2.5, 2.6, "fail", {"expires": 3.0}),
            ("read", N, 4.0, 4.1, "callable", {}),
        )
        == []
    )
