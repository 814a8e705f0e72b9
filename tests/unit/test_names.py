"""How names may be misremembered: sounds, nicknames, particles, and the broadened pass."""

from __future__ import annotations

import json

from app.search import names, queries
from app.search.documents import to_document
from app.search.highlights import highlights
from app.search.readings import joined_readings, parse_query, particle_groups


def test_sound_alikes_share_a_code_and_short_words_carry_none():
    assert names.sound("smyth") == names.sound("smith")
    assert names.sound("jeff") == names.sound("geoff")
    assert names.sound("stephen") == names.sound("steven")
    assert names.sound("jo") is None


def test_nicknames_go_both_ways_and_never_include_the_word():
    assert "robert" in names.nicknames("bob") and "bob" in names.nicknames("robert")
    assert "margaret" in names.nicknames("peggy")
    assert "alexander" in names.nicknames("sasha")  # the supplement beyond English
    assert "bob" not in names.nicknames("bob")


def test_documents_carry_the_sound_codes_of_each_name_word():
    document = to_document({"firstName": "Jon Paul", "lastName": "O'Brien"})
    assert document["firstNameSounds"] == [names.sound("jon"), names.sound("paul")]
    assert document["lastNameSounds"] == [names.sound("obrien")]


def test_particles_stay_with_the_word_after_them():
    assert particle_groups(("pieter", "van", "der", "berg")) == [[0], [1, 2, 3]]
    assert particle_groups(("maria", "de")) == [[0], [1]]  # still typing


def test_guesses_rank_below_every_typo_match_and_in_order():
    lowest_typo = queries.FUZZY_PREFIX * min(w for *_, w, _ in queries.TEXT_FIELDS)
    tiers = [queries.SOUNDS_ALIKE, queries.NICKNAME, queries.FIRST_LETTER, queries.INITIAL]
    assert lowest_typo > tiers[0] and tiers == sorted(tiers, reverse=True)


def test_the_strict_query_has_no_guesses_and_the_broadened_one_has_them():
    parsed = parse_query("bob fairbanks")
    body = queries.build_search_body("ws_1", parsed, None, sort=None, size=10)
    strict = json.dumps(body["query"])
    assert "Sounds" not in strict and ".tail" not in strict and "minimum_should_match" not in strict
    body = queries.build_search_body("ws_1", parsed, {"company": "acme"}, sort=None, size=10)
    broad = queries.broaden_body(body, parsed)
    text = json.dumps(broad["query"])
    assert "firstNameSounds" in text and "lastName.tail" in text and "robert" in text
    assert broad["query"]["bool"]["filter"] == body["query"]["bool"]["filter"]
    assert broad["sort"] == body["sort"]


def test_broadening_happens_only_when_the_strict_pass_found_no_one():
    parsed = parse_query("jon")
    assert queries.should_broaden(parsed, 0) and not queries.should_broaden(parsed, 1)
    assert not queries.should_broaden(parse_query(""), 0)


def test_a_word_typed_joined_is_highlighted_over_the_tokens_it_spells():
    contact = {"firstName": "Pieter", "lastName": "van der Berg"}
    marks = highlights(contact, parse_query("vanderberg"))
    assert marks == [
        {"field": "lastName", "value": "van der Berg", "spans": [{"start": 0, "end": 12}]}
    ]


def test_a_name_typed_with_a_stray_space_is_read_joined_back_in_the_broadened_pass():
    assert joined_readings(("ja", "ck", "matthews")) == [
        ("jack", "matthews"),
        ("ja", "ckmatthews"),
    ]
    assert joined_readings(("van", "berg")) == []  # particles join on their own
    assert joined_readings(("john", "415")) == []
    assert joined_readings(('"john"', "AND", "smith*"))[0] == ("johnand", "smith*")
    parsed = parse_query("ja ck matthews")
    strict = json.dumps(queries.build_text_query(parsed))
    assert "ckmatthews" not in strict
    broad = json.dumps(queries.build_text_query(parsed, broaden=True))
    assert '"jack"' in broad and "ckmatthews" in broad


def test_both_words_weakly_beat_one_word_exactly_and_rarity_only_breaks_ties():
    weakest_pair = 2 * queries.INITIAL + queries.BOTH_WORDS_BONUS
    # Lucene's BM25 is at most its idf, under 22 for a billion documents; two words.
    rarity_bound = 2 * 22 * queries.RARITY
    assert weakest_pair > queries.EXACT + rarity_bound
    assert rarity_bound < queries.INITIAL


def test_the_broadened_pass_allows_a_short_word_one_edit_more():
    strict = json.dumps(queries.build_word_query("loe", is_last=True))
    broad = json.dumps(queries.build_word_query("loe", is_last=True, broaden=True))
    assert "fuzziness" not in strict and '"fuzziness": 1' in broad
    broad = json.dumps(queries.build_word_query("tomson", is_last=False, broaden=True))
    assert '"fuzziness": 2' in broad
    broad = json.dumps(queries.build_word_query("jo", is_last=True, broaden=True))
    assert "fuzziness" not in broad  # two letters stay literal
