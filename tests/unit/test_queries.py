"""The pure search builders: query parsing, clauses, filters, sorts, cursors, highlights."""

from __future__ import annotations

import base64
import json

import pytest

from app.search import cursors, queries
from app.search.filters import build_filters
from app.search.highlights import edit_distance, fold, highlights
from app.search.readings import parse_query
from app.search.sorts import SORT_CHOICES, build_sort


def test_words_split_on_whitespace_and_symbol_only_words_are_dropped():
    parsed = parse_query('  john "*?:\\/()[]{}~^!  smith ')
    assert parsed.words == ("john", "smith")
    assert parse_query("").is_empty and parse_query("***").is_empty


def test_phone_in_any_format_becomes_digit_variants():
    for typed in ("+1 415-555-1234", "(415) 555-1234", "415.555.1234"):
        digits = parse_query(typed).phone
        assert digits[0] in ("14155551234", "4155551234")
    assert parse_query("020 7946 0000").phone == ("02079460000", "2079460000")
    assert parse_query("1234").phone == ("1234",)
    assert parse_query("12").phone == ()  # too short to be a number part
    assert parse_query("john 415").words == ("john", "415")


@pytest.mark.parametrize(
    ("word", "edits"),
    [("jo", 0), ("jon", 0), ("jhon", 1), ("smtih", 1), ("garcai", 1), ("schmitd", 2), ("415", 0)],
)
def test_fuzziness_grows_with_word_length(word, edits):
    assert queries.fuzziness_for(word) == edits


def test_word_query_orders_tiers_and_only_the_last_word_gets_typo_prefixes():
    clause = queries.build_word_query("smtih", is_last=True)["dis_max"]["queries"]
    boosts = sorted({c["constant_score"]["boost"] for c in clause}, reverse=True)
    assert boosts[0] == queries.EXACT and min(boosts) < queries.FUZZY
    not_last = queries.build_word_query("smtih", is_last=False)["dis_max"]["queries"]
    assert len(not_last) < len(clause)
    # A typo never reaches the exact tier, whatever the field weights are.
    weights = (queries.NAME_WEIGHT, queries.COMPANY_WEIGHT, queries.EMAIL_WEIGHT)
    assert queries.EXACT * min(weights) > queries.PREFIX * max(weights)
    assert queries.PREFIX * min(weights) > queries.FUZZY * max(weights)
    assert queries.FUZZY * min(weights) > queries.FUZZY_PREFIX * max(weights)


def _lone_name_clauses(text: str, *, broaden: bool = False) -> list[dict]:
    query = queries.build_text_query(parse_query(text), broaden=broaden)
    found = []

    def walk(node):
        if isinstance(node, dict):
            score = node.get("constant_score")
            if score and "exists" in json.dumps(score["filter"]):
                found.append(score)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(query)
    return found


@pytest.mark.parametrize("broaden", [False, True])
def test_a_one_word_name_query_breaks_ties_by_a_lone_name_and_by_nothing_more(broaden):
    (clause,) = _lone_name_clauses("caitkin", broaden=broaden)
    assert clause["boost"] == queries.LONE_NAME
    # Exactly one of the two name fields: a nameless contact is not a lone name.
    options = clause["filter"]["bool"]["should"]
    assert {json.dumps(o["bool"]["filter"]) for o in options} == {
        json.dumps([{"exists": {"field": f}}]) for f in ("firstName", "lastName")
    }
    # A tie-break only: below the smallest step between two sums of the weights.
    assert queries.LONE_NAME < queries.INITIAL and queries.LONE_NAME < queries.FIRST_LETTER
    for text in ("jane.doe@acme.io", "4155551234", "42"):
        assert _lone_name_clauses(text, broaden=broaden) == []
    # Two words as typed never; broadened, their reading joined into one word does.
    assert len(_lone_name_clauses("caitlin clarke", broaden=broaden)) == int(broaden)


def test_a_two_word_reading_of_a_stray_space_needs_its_joined_word_and_not_the_other():
    query = queries.build_text_query(parse_query("jord an wexford"), broaden=True)
    as_typed, *readings = query["dis_max"]["queries"]
    assert len(as_typed["bool"]["must"]) == 3  # as typed: every word must match
    (reading,) = [r for r in readings if "jordan" in json.dumps(r["bool"]["must"])]
    # "jordan wexford": the joined word must match; the other word and the bonus for
    # both only add to the score, like a broadened "first last".
    (must,) = reading["bool"]["must"]
    assert "wexford" not in json.dumps(must)
    bonus = [c["constant_score"] for c in reading["bool"]["should"] if "constant_score" in c]
    assert queries.BOTH_WORDS_BONUS in {c["boost"] for c in bonus}
    assert "wexford" in json.dumps(reading["bool"]["should"])
    # Still literal: a reading never carries the guesses (sounds, nicknames).
    assert "Sounds" not in json.dumps(readings)
    # A reading whose joined word is not a name ("johnand smith*") needs that word.
    (_, *hostile) = queries.build_text_query(parse_query('"john" AND smith*'), broaden=True)[
        "dis_max"
    ]["queries"]
    assert '"query": "johnand"' in json.dumps(hostile[0]["bool"]["must"])


def test_user_text_never_reaches_query_string_syntax():
    body = queries.build_search_body("ws_a", parse_query('a:b OR "c" (d)'), {}, sort=None, size=5)
    text = json.dumps(body)
    assert "query_string" not in text and "simple_query_string" not in text


def test_filters_start_with_the_workspace_and_cover_every_option():
    clauses = build_filters(
        "ws_a",
        {
            "company": "Acme Inc",
            "tags": {"any": ["VIP", "lead"], "all": ["x"]},
            "createdAt": {"gte": "2026-01-01T00:00:00.000Z"},
            "hasPhone": True,
            "hasEmail": False,
            "dnc": False,
        },
    )
    assert clauses[0] == {"term": {"workspaceId": "ws_a"}}
    assert {"terms": {"tags": ["vip", "lead"]}} in clauses
    assert {"range": {"createdAt": {"gte": "2026-01-01T00:00:00.000Z"}}} in clauses
    assert {"exists": {"field": "phone"}} in clauses
    assert {"bool": {"must_not": [{"exists": {"field": "email"}}]}} in clauses
    assert {"term": {"dnc": False}} in clauses
    assert build_filters("ws_a", None) == [{"term": {"workspaceId": "ws_a"}}]


def test_every_sort_ends_with_a_total_order():
    for choice in SORT_CHOICES:
        keys = build_sort(choice, has_query=True)
        assert keys[-1] == {"id": {"order": "asc"}}
    assert list(build_sort(None, has_query=True)[0]) == ["_score"]
    assert list(build_sort(None, has_query=False)[0]) == ["updatedAt"]
    assert build_sort("lastName:desc", has_query=True)[0]["lastName.sort"]["order"] == "desc"


def test_cursor_round_trip_and_refusals():
    codec = cursors.CursorCodec("k")
    mark = cursors.fingerprint("ws_a", ("john",), (), {}, None)
    text = codec.encode(cursors.Cursor([1.5, 1700000000000, "contact_x"], mark, "pit1"), "ws_a")
    decoded = codec.decode(text, "ws_a", mark)
    assert decoded.after == [1.5, 1700000000000, "contact_x"] and decoded.pit == "pit1"
    with pytest.raises(cursors.CursorError, match="different search"):
        codec.decode(text, "ws_a", cursors.fingerprint("ws_a", "other"))
    for bad in ("", "!!!", "e30", "e30.e30", "x" * 5000, text + "x", "." + text):
        with pytest.raises(cursors.CursorError):
            codec.decode(bad, "ws_a", mark)


def test_a_cursor_verifies_only_for_its_workspace_and_key():
    codec = cursors.CursorCodec("k")
    mark = cursors.fingerprint("ws_a", "list")
    text = codec.encode(cursors.Cursor([1, "contact_a"], mark, "pit-a"), "ws_a")
    with pytest.raises(cursors.CursorError, match="not valid"):
        codec.decode(text, "ws_b", mark)  # a cursor of ws_a replayed for ws_b
    with pytest.raises(cursors.CursorError, match="not valid"):
        cursors.CursorCodec("another key").decode(text, "ws_a", mark)
    payload, signature = text.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["p"] = "pit-of-ws-b"
    tampered = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    with pytest.raises(cursors.CursorError, match="not valid"):
        codec.decode(f"{tampered}.{signature}", "ws_a", mark)


def test_highlights_mark_the_typed_prefix_typos_and_phone_digits():
    contact = {"firstName": "José", "lastName": "Müller", "phone": "+14155551234", "email": None}
    found = {h["field"]: h["spans"] for h in highlights(contact, parse_query("jo mueller"))}
    assert found["firstName"] == [{"start": 0, "end": 2}]
    assert found["lastName"] == [{"start": 0, "end": 6}]
    phone = highlights(contact, parse_query("(415) 555"))
    assert phone == [{"field": "phone", "value": "+14155551234", "spans": [{"start": 2, "end": 8}]}]
    last4 = highlights(contact, parse_query("1234"))[0]["spans"]
    assert last4 == [{"start": 8, "end": 12}]
    assert fold("Østergaard Straße") == "ostergaard strasse"
    assert edit_distance("smtih", "smith", 1) == 1


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 30, "9" * 2000, "true"]
)
def test_a_cursor_with_a_non_finite_or_huge_sort_value_is_refused(value):
    """Even correctly signed (a leaked key), such a value never reaches the engine."""
    codec = cursors.CursorCodec("k")
    mark = cursors.fingerprint("ws_x", "list")
    payload = f'{{"v":2,"a":[{value},"contact_a"],"f":"{mark}"}}'.encode()
    text = f"{cursors._b64(payload)}.{cursors._b64(codec._sign('ws_x', payload))}"
    with pytest.raises(cursors.CursorError):
        codec.decode(text, "ws_x", mark)
    assert codec.decode(codec.encode(cursors.Cursor([1, "c"], mark), "ws_x"), "ws_x", mark)
