"""The precompiled response dumpers return exactly what marshmallow's dump returns."""

from __future__ import annotations

import pytest

from app.schemas.contacts import ContactEnvelopeSchema, ContactListSchema
from app.schemas.dumpers import compile_dumper
from app.schemas.search import SearchResultSchema

CONTACT = {
    "id": "contact_abc",
    "workspaceId": "ws_a",
    "firstName": "Zoë",
    "lastName": None,
    "phone": "+14155551234",
    "email": "z@example.com",
    "company": "Acme",
    "notes": None,
    "tags": ["lead", "vip"],
    "customFields": {"plan": "gold", "seats": 3, "trial": False, "score": 1.5},
    "dnc": None,
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-02T00:00:00.000Z",
}
HIT = {
    **CONTACT,
    "dnc": True,
    "highlights": [{"field": "firstName", "value": "Zoë", "spans": [{"start": 0, "end": 2}]}],
    "internal": "never leaves the service",
}
ODD = {  # values of another type than their field's: the field's own serialize decides
    **CONTACT,
    "id": 12,
    "tags": ("a", 1),
    "customFields": None,
    "createdAt": 5,
}
MISSING = {"id": "contact_x", "workspaceId": "ws_a", "createdAt": "t", "updatedAt": "t"}


@pytest.mark.parametrize("contact", [CONTACT, HIT, ODD, MISSING])
def test_a_contact_dumps_as_marshmallow_dumps_it(contact):
    envelope = {"data": contact}
    assert compile_dumper(ContactEnvelopeSchema)(envelope) == ContactEnvelopeSchema().dump(envelope)


@pytest.mark.parametrize(
    "meta",
    [
        {"total": 2, "hasMore": True, "totalIsExact": True, "nextCursor": "abc"},
        {"total": 0, "hasMore": False, "nextCursor": None},
    ],
)
def test_pages_and_search_results_dump_as_marshmallow_dumps_them(meta):
    page = {"data": [CONTACT, MISSING, ODD], "meta": meta}
    assert compile_dumper(ContactListSchema)(page) == ContactListSchema().dump(page)
    result = {"data": [HIT, {**HIT, "highlights": []}], "meta": meta}
    dumped = compile_dumper(SearchResultSchema)(result)
    assert dumped == SearchResultSchema().dump(result)
    assert list(dumped["data"][0]) == list(SearchResultSchema().dump(result)["data"][0])
    assert "internal" not in dumped["data"][0]
