"""DNC rules as pure functions (app/dnc/rules.py) and the prefix parser (app/phones.py)."""

from __future__ import annotations

import pytest

from app.dnc.rules import Rule, expires_ms, iso_of_ms, matches, prefixes, rule_of, specificity
from app.phones import e164_prefix

N = "+12015550123"


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [("+1201", "+1201"), ("+1 201-555", "+1201555"), ("+44 909", "+44909"), ("+1", "+1")],
)
def test_prefixes_are_read_as_ascii_e164_prefixes(typed, prefix):
    assert e164_prefix(typed) == prefix


@pytest.mark.parametrize(
    "typed",
    ["+0", "+", "+" + "1" * 15, "+１２０１", "1201", "+999", "+4", "+12a1", "", "+1201" * 20],
)
def test_forged_prefixes_are_refused(typed):
    assert e164_prefix(typed) is None


def test_the_seed_entry_keeps_its_id_and_every_other_rule_gets_a_stable_digest():
    assert Rule("exact", N).doc_id("ws_a") == f"ws_a:{N}"
    scoped = Rule("exact", N, "spring").doc_id("ws_a")
    assert scoped.startswith("ws_a:r:") and scoped == Rule("exact", N, "spring", "all", 5).doc_id(
        "ws_a"
    )
    assert (
        len(
            {
                Rule(k, v, s, c).doc_id("ws_a")
                for k, v, s, c in [
                    ("prefix", "+1201", "", "all"),
                    ("prefix", "+1201", "", "sms"),
                    ("prefix", "+1201", "spring", "all"),
                    ("exact", "+1201", "", "sms"),
                ]
            }
        )
        == 4
    )


def test_scope_channel_and_expiry_decide_a_match():
    rule = Rule("prefix", "+1201", "spring", "sms", 2_000)
    assert matches(rule, N, "spring", "sms", 1_999)
    assert not matches(rule, N, "spring", "sms", 2_000)  # ends at its expiry, not later
    assert not matches(rule, N, "", "sms", 0)
    assert not matches(rule, N, "spring", "calls", 0)
    assert matches(Rule("prefix", "+1201"), N, "autumn", "calls", 10**13)
    assert not matches(Rule("exact", "+1201555012"), N, "", "calls", 0)
    assert not matches(Rule("prefix", "+1202"), N, "", "calls", 0)


def test_the_most_specific_matching_entry_is_the_evidence():
    rules = [Rule("prefix", "+1"), Rule("prefix", "+1201555"), Rule("exact", N, "", "all", 9)]
    assert max(rules, key=specificity) == rules[2]
    assert max(rules[:2], key=specificity) == rules[1]


def test_stored_entries_read_back_as_their_rule():
    old = {"workspaceId": "ws_a", "phone": N}  # written before rules existed
    assert rule_of(old) == Rule("exact", N)
    stamp = "2026-01-31T12:00:00.123Z"
    doc = {"kind": "prefix", "prefix": "+1201", "scope": "x", "channel": "sms", "expiresAt": stamp}
    assert rule_of(doc) == Rule("prefix", "+1201", "x", "sms", expires_ms(stamp))
    assert iso_of_ms(expires_ms(stamp)) == stamp
    assert prefixes("+1201") == ["1", "12", "120", "1201"]
