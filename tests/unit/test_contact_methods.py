"""Pure rules of a contact's phones and emails and of a merge, without servers."""

from __future__ import annotations

import pytest

from app.contact_methods import EMAILS, PHONES, apply_changes, entries_of, flag_numbers, union
from app.errors import Unprocessable, ValidationError
from app.services.duplicates import build_duplicates_query, score_of
from app.services.merge_rules import combine

A, B, C = "+14155550501", "+14155550502", "+14155550503"


def entry(number, primary=False, kind="other"):
    return {"number": number, "type": kind, "primary": primary}


def test_a_document_older_than_the_lists_reads_its_scalar_as_the_primary_entry():
    assert entries_of({"phone": A}, PHONES) == [entry(A, True)]
    assert entries_of({"email": "a@x.io"}, EMAILS) == [
        {"address": "a@x.io", "type": "other", "primary": True}
    ]
    assert entries_of({"phone": None, "phones": []}, PHONES) == []


def test_a_scalar_write_changes_the_primary_and_a_list_write_replaces_the_list():
    contact = {"phones": [entry(A, True, "mobile"), entry(B)], "phone": A}
    apply_changes(contact, {"phone": C})
    assert contact["phones"] == [entry(C, True, "mobile"), entry(B)] and contact["phone"] == C
    apply_changes(contact, {"phones": [entry(B, True)]})
    assert contact["phones"] == [entry(B, True)] and contact["phone"] == B
    with pytest.raises(ValidationError):
        apply_changes(contact, {"phones": [entry(A, True)], "phone": B})


def test_union_keeps_every_entry_once_and_the_first_lists_primary():
    merged = union([[entry(A, True)], [entry(B, True), entry(A, False, "work")]], PHONES)
    assert merged == [entry(A, True), entry(B)]


def test_any_listed_number_lists_the_contact_and_an_unread_list_is_null():
    contact = {"phones": [entry(A, True), entry(B)], "phone": A}
    flag_numbers(contact, {B})
    assert contact["dnc"] is True and [p["dnc"] for p in contact["phones"]] == [False, True]
    flag_numbers(contact, None)
    assert contact["dnc"] is None and [p["dnc"] for p in contact["phones"]] == [None, None]
    empty = {"phones": [], "phone": None}
    flag_numbers(empty, None)
    assert empty["dnc"] is False


def contact(contact_id, **fields):
    return {
        "id": contact_id,
        "workspaceId": "ws_u",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "tags": [],
        "customFields": {},
        **fields,
    }


def test_combining_again_with_the_same_sources_changes_nothing():
    target = contact("contact_t", firstName="T", phones=[entry(A, True)], phone=A, tags=["x"])
    sources = [
        contact(
            "contact_s",
            firstName="S",
            company="Co",
            phones=[entry(B, True)],
            phone=B,
            customFields={"k": 1},
            tags=["y"],
        ),
        contact("contact_r", phones=[entry(C, True), entry(A)], phone=C, customFields={"k": 2}),
    ]
    choices = {"company": "contact_s", "phone": "contact_r"}
    once, provenance = combine(target, sources, choices)
    twice, _ = combine(once, sources, choices)
    assert once == twice
    assert once["phone"] == C and [p["number"] for p in once["phones"]] == [C, A, B]
    assert once["customFields"] == {"k": 1} and provenance["customFields"] == {"k": "contact_s"}
    assert provenance["phones"] == {A: "contact_t", B: "contact_s", C: "contact_r"}


def test_a_survivor_over_the_caps_is_refused_before_anything_is_written():
    many = [entry(f"+1415555{n:04d}", n == 0) for n in range(15)]
    more = [entry(f"+1212555{n:04d}", n == 0) for n in range(15)]
    with pytest.raises(Unprocessable):
        combine(contact("contact_t", phones=many), [contact("contact_s", phones=more)], {})


def test_the_duplicates_query_names_each_way_of_matching_and_leaves_the_contact_out():
    subject = contact(
        "contact_d",
        firstName="Ann",
        lastName="Lee",
        company="Acme",
        phones=[entry(A, True), entry(B)],
        emails=[{"address": "ann@acme.io", "type": "work", "primary": True}],
    )
    query = build_duplicates_query(subject)["bool"]
    assert [clause["bool"]["_name"] for clause in query["should"]] == [
        "samePhone",
        "sameEmail",
        "similarName+sameCompany",
    ]
    assert {"terms": {"phones.number": [A, B]}} in query["should"][0]["bool"]["should"]
    assert query["must_not"] == [{"ids": {"values": ["contact_d"]}}]
    assert query["filter"] == [{"term": {"workspaceId": "ws_u"}}]
    assert build_duplicates_query(contact("contact_e", firstName="Only")) is None
    assert score_of([]) == 0.0 and score_of(["samePhone", "sameEmail"]) == 0.98
