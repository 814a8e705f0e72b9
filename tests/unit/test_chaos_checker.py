"""The chaos checker's rule, on hand-written histories."""

from __future__ import annotations

from tests.chaos.checker import check
from tests.chaos.history import History

N, M = "+14155550123", "+12125550147"


def history(*ops) -> History:
    h = History()
    for client, kind, key, invoke, complete, outcome in ops:
        h.record(client, kind, key, invoke, complete, outcome)
    return h


def violations(h: History, **kwargs) -> list:
    return check(h.ops(), **kwargs)["violations"]


def test_a_callable_answer_after_an_acknowledged_add_is_a_violation():
    h = history(("a", "add", N, 1.0, 2.0, "ok"), ("b", "read", N, 3.0, 3.1, "callable"))
    found = violations(h)
    assert len(found) == 1
    assert found[0].read.invoke == 3.0 and found[0].add.complete == 2.0
    assert found[0].describe()["number"] == N


def test_listed_and_unknown_answers_are_never_violations():
    h = history(
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("b", "read", N, 3.0, 3.1, "listed"),
        ("b", "read", N, 3.2, 3.3, "unknown"),
    )
    assert violations(h) == []
    assert check(h.ops())["obliged_reads"] == 2


def test_another_numbers_add_does_not_oblige():
    h = history(("a", "add", M, 1.0, 2.0, "ok"), ("b", "read", N, 3.0, 3.1, "callable"))
    assert violations(h) == []


def test_a_failed_add_does_not_oblige():
    h = history(("a", "add", N, 1.0, 2.0, "fail"), ("b", "read", N, 3.0, 3.1, "callable"))
    assert violations(h) == []


def test_a_read_that_began_before_the_ack_is_excused():
    h = history(("a", "add", N, 1.0, 2.0, "ok"), ("b", "read", N, 1.5, 2.5, "callable"))
    assert violations(h) == []


def test_a_delete_overlapping_the_read_excuses_it():
    h = history(
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("c", "delete", N, 4.0, 6.0, "ok"),
        ("b", "read", N, 3.0, 4.5, "callable"),
    )
    assert violations(h) == []


def test_a_delete_overlapping_the_add_excuses_later_reads():
    # The delete may have been ordered after the add.
    h = history(
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("c", "delete", N, 0.5, 1.5, "ok"),
        ("b", "read", N, 3.0, 3.1, "callable"),
    )
    assert violations(h) == []


def test_a_failed_delete_excuses_every_later_read():
    h = history(
        ("c", "delete", N, 0.1, 0.2, "fail"),
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("b", "read", N, 30.0, 30.1, "callable"),
    )
    assert violations(h) == []


def test_a_failed_delete_long_settled_no_longer_excuses_with_a_settle_bound():
    h = history(
        ("c", "delete", N, 0.1, 0.2, "fail"),
        ("a", "add", N, 20.0, 21.0, "ok"),
        ("b", "read", N, 30.0, 30.1, "callable"),
    )
    assert violations(h) == []
    assert len(violations(h, settle=10.0)) == 1


def test_a_delete_entirely_before_the_add_does_not_excuse():
    h = history(
        ("c", "delete", N, 0.1, 0.5, "ok"),
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("b", "read", N, 3.0, 3.1, "callable"),
    )
    assert len(violations(h)) == 1


def test_a_rejected_delete_before_the_add_does_not_excuse():
    h = history(
        ("c", "delete", N, 0.1, 0.5, "rejected"),
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("b", "read", N, 3.0, 3.1, "callable"),
    )
    assert len(violations(h)) == 1


def test_a_delete_that_began_after_the_read_ended_does_not_excuse():
    h = history(
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("b", "read", N, 3.0, 3.1, "callable"),
        ("c", "delete", N, 3.5, 4.0, "ok"),
    )
    assert len(violations(h)) == 1


def test_a_re_add_after_a_delete_obliges_again():
    h = history(
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("c", "delete", N, 3.0, 4.0, "ok"),
        ("b", "read", N, 4.5, 4.6, "callable"),  # excused: after the delete
        ("a", "add", N, 5.0, 6.0, "ok"),
        ("b", "read", N, 7.0, 7.1, "callable"),  # a violation: re-added
    )
    found = violations(h)
    assert [v.read.invoke for v in found] == [7.0]
    assert found[0].add.invoke == 5.0


def test_the_latest_add_is_the_witness_when_an_earlier_one_is_excused():
    # The first add is excused by the overlapping delete; the second one is not.
    h = history(
        ("a", "add", N, 1.0, 2.0, "ok"),
        ("c", "delete", N, 1.5, 3.0, "ok"),
        ("a", "add", N, 4.0, 5.0, "ok"),
        ("b", "read", N, 6.0, 6.1, "callable"),
    )
    assert len(violations(h)) == 1
