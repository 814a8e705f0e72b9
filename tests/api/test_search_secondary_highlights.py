"""Search highlights name the secondary number or address that matched, through HTTP on the
real servers: a caller ID showing a mobile that is not the primary number, typed in full,
in national format or as its last four digits, comes back with a `phones` highlight at
that number's index; a secondary address's local part with an `emails` one. Hostile
queries never 500 and never mark anything outside a value."""

from __future__ import annotations

import pytest

from tests.api.test_search import create, search

PRIMARY = "+14155550101"
MOBILE = "+14155557788"  # the second number: what the caller ID shows
DESK = "+442079460123"


@pytest.fixture
def reachable(client, workspace, auth):
    """One contact with three numbers and three addresses, and one with a single each."""
    several = create(
        client,
        workspace,
        auth,
        refresh="false",
        firstName="Quentin",
        lastName="Marsh",
        phones=[
            {"number": PRIMARY, "type": "work", "primary": True},
            {"number": MOBILE, "type": "mobile"},
            {"number": DESK, "type": "work"},
        ],
        emails=[
            {"address": "q.marsh@acme.example", "primary": True},
            {"address": "quentin.private@mail.example"},
            {"address": "qm-billing@acme.example"},
        ],
    )
    single = create(  # searchable at once, and the one before it with it
        client,
        workspace,
        auth,
        refresh="true",
        firstName="Olga",
        phone="+14155550199",
        email="olga@x.example",
    )
    return several, single


def _hit(result, contact_id):
    return next(hit for hit in result["data"] if hit["id"] == contact_id)


def _of(hit, field):
    return [hl for hl in hit["highlights"] if hl["field"] == field]


@pytest.mark.parametrize(
    "query, spans",
    [
        (MOBILE, [{"start": 1, "end": 12}]),  # full E.164
        ("(415) 555-7788", [{"start": 2, "end": 12}]),  # national format
        ("415 555 7788", [{"start": 2, "end": 12}]),
        ("7788", [{"start": 8, "end": 12}]),  # the last four digits
    ],
)
def test_a_search_by_a_secondary_number_marks_that_number_at_its_index(
    client, workspace, auth, reachable, query, spans
):
    several, _ = reachable
    hit = _hit(search(client, workspace, auth, query=query), several["id"])
    assert _of(hit, "phones") == [{"field": "phones", "index": 1, "value": MOBILE, "spans": spans}]
    assert hit["phones"][1]["number"] == MOBILE
    assert _of(hit, "phone") == []  # the primary did not match: no entry for it
    assert hit["phone"] == PRIMARY


def test_a_number_matching_the_primary_keeps_the_phone_entry_and_adds_no_phones_one(
    client, workspace, auth, reachable
):
    several, _ = reachable
    hit = _hit(search(client, workspace, auth, query="0101"), several["id"])
    assert _of(hit, "phone") == [
        {"field": "phone", "value": PRIMARY, "spans": [{"start": 8, "end": 12}]}
    ]
    assert _of(hit, "phones") == []


def test_digits_shared_by_two_secondary_numbers_mark_each_at_its_own_index(
    client, workspace, auth, reachable
):
    several, _ = reachable
    hit = _hit(search(client, workspace, auth, query="+1 415 555"), several["id"])
    assert [(hl["index"], hl["value"]) for hl in _of(hit, "phones")] == [(1, MOBILE)]
    assert _of(hit, "phone")[0]["value"] == PRIMARY
    hit = _hit(search(client, workspace, auth, query="020 7946 0123"), several["id"])
    assert _of(hit, "phones") == [
        {"field": "phones", "index": 2, "value": DESK, "spans": [{"start": 3, "end": 13}]}
    ]


def test_a_secondary_addresss_local_part_prefix_marks_that_address(
    client, workspace, auth, reachable
):
    several, _ = reachable
    hit = _hit(search(client, workspace, auth, query="privat"), several["id"])
    assert _of(hit, "emails") == [
        {
            "field": "emails",
            "index": 1,
            "value": "quentin.private@mail.example",
            "spans": [{"start": 8, "end": 14}],
        }
    ]
    hit = _hit(search(client, workspace, auth, query="qm-bill"), several["id"])
    assert _of(hit, "emails") == [
        {
            "field": "emails",
            "index": 2,
            "value": "qm-billing@acme.example",
            "spans": [{"start": 0, "end": 2}, {"start": 3, "end": 7}],
        }
    ]


def test_a_typo_in_an_address_finds_nothing_and_marks_nothing(client, workspace, auth, reachable):
    # The engine never forgives a typo in an address: neither does the highlight.
    assert search(client, workspace, auth, query="prviate")["data"] == []


def test_a_contact_with_one_number_and_address_gets_only_the_primary_entries(
    client, workspace, auth, reachable
):
    _, single = reachable
    hit = _hit(search(client, workspace, auth, query="0199"), single["id"])
    assert [hl["field"] for hl in hit["highlights"]] == ["phone"]
    hit = _hit(search(client, workspace, auth, query="olg"), single["id"])
    assert {hl["field"] for hl in hit["highlights"]} == {"firstName", "email"}


@pytest.mark.parametrize(
    "query",
    [
        "١٢٣٤",  # Arabic-Indic digits
        "７７８８",  # fullwidth digits
        "7788" * 50,  # as long as a query may be (200 characters)
        "x" * 200,
        "privat" + "é" * 194,
        "q@" * 100,
        "phones 7788",
        '{"field":"phones","index":0}',
        "index:1 emails:privat",
        "\u202e7788",
        "💥 7788 💥",
    ],
)
def test_hostile_queries_never_fail_nor_mark_outside_a_value(
    client, workspace, auth, reachable, query
):
    result = search(client, workspace, auth, query=query)
    for hit in result["data"]:
        for hl in hit["highlights"]:
            assert all(0 <= s["start"] < s["end"] <= len(hl["value"]) for s in hl["spans"])
            if hl["field"] in ("phones", "emails"):
                listed = hit[hl["field"]][hl["index"]]
                assert hl["value"] == listed.get("number", listed.get("address"))
                assert hl["index"] > 0  # never the primary, which has its own entry


def test_a_query_past_the_length_limit_is_a_400_not_a_highlight(client, workspace, auth, reachable):
    for query in ("7788" * 500, "privat" + "é" * 5000):
        error = search(client, workspace, auth, status=400, query=query)["error"]
        assert error["code"] == "validation_error"


def test_forged_highlight_fields_in_the_request_are_refused(client, workspace, auth, reachable):
    response = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "7788", "highlights": [{"field": "phones"}]},
        headers=auth,
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "validation_error"
