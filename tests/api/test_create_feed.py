"""A single create's change is recorded from the document it stored (a versions-only
multi-get) unless the record moved on before the change was recorded; then the state
is read back, so the change still carries the later state. Through HTTP on the real
servers; the only fake forces a PATCH into the gap between the write and its record."""

from __future__ import annotations

from app.services.contacts import ContactService
from tests.api.test_changes import create, walk

HOSTILE = {
    "firstName": "Zoë ß Łódź 李",
    "lastName": "O'Brien-Smith " + "x" * 150,
    "company": "Ünïcødé \u202e Corp",
    "email": "Zoe@Example.COM",
    "phone": "(415) 555-0177",
    "notes": "line1\nline2 \u0000-free",
    "tags": ["vip", "café"],
    "customFields": {"tier": "gold", "seats": 12, "trial": False},
}


def test_a_created_contact_is_recorded_exactly_as_stored(client, workspace, auth):
    made = [
        create(client, workspace, auth, firstName="Ada", phone="+14155550101"),
        create(client, workspace, auth, **HOSTILE),
        create(client, workspace, auth, email="only@example.com", externalId="crm-1"),
    ]
    events, _ = walk(client, workspace, auth)
    assert [e["type"] for e in events] == ["contact.created"] * 3
    for contact, event in zip(made, events, strict=True):
        stored = client.get(f"/v1/contacts/{contact['id']}", headers=auth).json["data"]
        assert without_read_time_flags(event["contact"]) == without_read_time_flags(
            {k: stored[k] for k in event["contact"]}
        )


def without_read_time_flags(contact: dict) -> dict:
    """A GET adds `dnc` (and each phone's) from the list at read time; the feed does not."""
    phones = [{k: v for k, v in p.items() if k != "dnc"} for p in contact.get("phones") or []]
    return {**{k: v for k, v in contact.items() if k != "dnc"}, "phones": phones}


def test_a_patch_landing_between_a_create_and_its_record_is_what_the_create_records(
    client, workspace, auth, monkeypatch
):
    settle = ContactService.settle_dnc_flags
    patched = []

    def settle_then_patch(self, workspace_id, written):
        settle(self, workspace_id, written)
        if not patched and written:  # once, in the create's gap before its record
            patched.append(written[0]["id"])
            response = client.patch(
                f"/v1/contacts/{written[0]['id']}", headers=auth, json={"firstName": "Later"}
            )
            assert response.status_code == 200, response.json

    monkeypatch.setattr(ContactService, "settle_dnc_flags", settle_then_patch)
    create(client, workspace, auth, firstName="Early", phone="+14155550102")

    events, _ = walk(client, workspace, auth)
    by_type = {e["type"]: e for e in events}
    assert patched and set(by_type) == {"contact.created", "contact.updated"}
    # Whatever the order of their numbers, the later number carries the later state.
    last = max(events, key=lambda e: e["seq"])
    assert last["contact"]["firstName"] == "Later"
    assert by_type["contact.created"]["contact"]["firstName"] == "Later"
