"""Several phones and emails per contact, through HTTP on the real servers: the lists
beside `phone` / `email`, their validation, search, and the DNC state of every number."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from opensearchpy import ConnectionTimeout

from app import create_app, services
from app.config import TestConfig
from tests.servers import Faulty

PRIMARY, SECOND, THIRD = "+14155550141", "+14155550142", "+14155550143"


def create(client, workspace, auth, status=201, **fields):
    body = {"workspaceId": workspace, "firstName": "Multi", "lastName": "Phone", **fields}
    response = client.post("/v1/contacts", json=body, headers=auth)
    assert response.status_code == status, response.json
    return response.json["data"] if status == 201 else response.json["error"]


def patch(client, auth, contact_id, status=200, **fields):
    response = client.patch(f"/v1/contacts/{contact_id}", json=fields, headers=auth)
    assert response.status_code == status, response.json
    return response.json["data"] if status == 200 else response.json["error"]


def get(client, auth, contact_id):
    response = client.get(f"/v1/contacts/{contact_id}", headers=auth)
    assert response.status_code == 200, response.json
    return response.json["data"]


def numbers(contact):
    return [(p["number"], p["type"], p["primary"]) for p in contact["phones"]]


def search(client, workspace, auth, query="", **filters):
    response = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": query, "filters": filters, "limit": 100},
        headers=auth,
    )
    assert response.status_code == 200, response.json
    return {hit["id"] for hit in response.json["data"]}


def export_rows(client, workspace, auth, **query):
    response = client.get(
        "/v1/contacts/export", query_string={"workspaceId": workspace, **query}, headers=auth
    )
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def listed(client, workspace, auth, phone):
    response = client.post("/v1/dnc", json={"workspaceId": workspace, "phone": phone}, headers=auth)
    assert response.status_code in (200, 201), response.json


def unlisted(client, workspace, auth, phone):
    response = client.delete(
        f"/v1/dnc/{phone}", query_string={"workspaceId": workspace}, headers=auth
    )
    assert response.status_code == 204, response.json


# --- the model: phone and email stay the primary entries -------------------------------


def test_a_create_with_only_phone_and_email_gives_one_primary_entry_each(client, workspace, auth):
    contact = create(client, workspace, auth, phone="(415) 555-0141", email="A@Example.com")
    assert contact["phone"] == PRIMARY
    assert contact["phones"] == [
        {"number": PRIMARY, "type": "other", "primary": True, "dnc": False}
    ]
    assert contact["emails"] == [{"address": "a@example.com", "type": "other", "primary": True}]
    assert get(client, auth, contact["id"]) == contact


def test_phones_are_normalized_collapsed_and_the_flagged_primary_is_phone(client, workspace, auth):
    contact = create(
        client,
        workspace,
        auth,
        phones=[
            {"number": "(415) 555-0142", "type": "work"},
            {"number": "+1 415 555 0141", "type": "mobile", "primary": True},
            {"number": "415.555.0142", "type": "home"},  # the work number again
        ],
        emails=[{"address": "b@x.io", "type": "work"}, {"address": "B@X.io"}],
    )
    assert contact["phone"] == PRIMARY
    assert numbers(contact) == [(PRIMARY, "mobile", True), (SECOND, "work", False)]
    assert contact["emails"] == [{"address": "b@x.io", "type": "work", "primary": True}]
    assert contact["email"] == "b@x.io"


def test_without_a_flagged_primary_the_first_entry_is_primary(client, workspace, auth):
    contact = create(client, workspace, auth, phones=[{"number": SECOND}, {"number": THIRD}])
    assert contact["phone"] == SECOND and numbers(contact)[0] == (SECOND, "other", True)


@pytest.mark.parametrize(
    "fields, field",
    [
        (
            {"phones": [{"number": SECOND, "primary": True}, {"number": THIRD, "primary": True}]},
            "phones",
        ),
        ({"phones": [{"number": f"+1415555{n:04d}"} for n in range(21)]}, "phones"),
        ({"phones": [{"number": "1"}] * 20_000}, "phones"),
        ({"phones": [{"number": SECOND}, {"number": "not a number"}]}, "phones.1.number"),
        ({"phones": [{"number": "+1 415 555 01４３"}, {"number": "+12"}]}, "phones.1.number"),
        ({"phones": [{"number": SECOND, "type": "fax"}]}, "phones.0.type"),
        ({"phones": [{"number": SECOND, "extra": 1}]}, "phones.0.extra"),
        ({"phones": [{"number": SECOND, "dnc": False}]}, "phones.0.dnc"),  # forged flag
        ({"phones": [{"number": {"$gt": ""}}]}, "phones.0.number"),
        ({"phones": [[SECOND]]}, "body"),
        ({"phones": "+14155550142"}, "phones"),
        ({"phones": [{"number": "9" * 5000}]}, "phones.0.number"),
        ({"phones": [{"number": SECOND}], "phone": THIRD}, "phone"),
        ({"emails": [{"address": "not-an-email"}]}, "emails.0.address"),
        ({"emails": [{"address": "a@x.io", "primary": "maybe"}]}, "emails.0.primary"),
    ],
)
def test_bad_phones_and_emails_are_a_400_naming_the_item_and_write_nothing(
    client, workspace, auth, fields, field
):
    error = create(client, workspace, auth, status=400, **fields)
    assert error["code"] == "validation_error"
    assert field in {d["field"] for d in error["details"]}, error
    listing = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json
    assert listing["meta"]["total"] == 0


def test_a_number_in_non_ascii_digits_is_stored_as_ascii_e164(client, workspace, auth):
    contact = create(client, workspace, auth, phones=[{"number": "+1 415 555 01４３"}])
    assert contact["phones"][0]["number"] == THIRD and contact["phone"] == THIRD


def test_patch_of_phone_alone_changes_the_primary_and_keeps_the_others(client, workspace, auth):
    contact = create(
        client,
        workspace,
        auth,
        phones=[{"number": PRIMARY, "type": "mobile"}, {"number": SECOND, "type": "work"}],
    )
    changed = patch(client, auth, contact["id"], phone=THIRD)
    assert numbers(changed) == [(THIRD, "mobile", True), (SECOND, "work", False)]
    promoted = patch(client, auth, contact["id"], phone=SECOND)  # already held: moves up
    assert numbers(promoted) == [(SECOND, "work", True)]
    cleared = patch(client, auth, contact["id"], phone=None)
    assert cleared["phone"] is None and cleared["phones"] == []


def test_clearing_the_primary_promotes_the_next_number(client, workspace, auth):
    contact = create(client, workspace, auth, phones=[{"number": PRIMARY}, {"number": SECOND}])
    after = patch(client, auth, contact["id"], phone=None)
    assert after["phone"] == SECOND and numbers(after) == [(SECOND, "other", True)]


def test_patch_of_phones_replaces_the_list_and_null_clears_it(client, workspace, auth):
    contact = create(client, workspace, auth, phone=PRIMARY, email="c@x.io")
    replaced = patch(
        client, auth, contact["id"], phones=[{"number": THIRD}, {"number": SECOND, "primary": True}]
    )
    assert replaced["phone"] == SECOND and numbers(replaced)[1] == (THIRD, "other", False)
    cleared = patch(client, auth, contact["id"], phones=None, emails=[])
    assert (cleared["phone"], cleared["phones"], cleared["email"]) == (None, [], None)
    error = patch(client, auth, contact["id"], status=400, phones=[{"number": "+1"}])
    assert error["details"][0]["field"] == "phones.0.number"
    assert get(client, auth, contact["id"])["phones"] == []  # the bad write changed nothing


# --- search covers every number and address ---------------------------------------------


def test_search_finds_a_contact_by_any_of_its_numbers_and_addresses(client, workspace, auth):
    contact = create(
        client,
        workspace,
        auth,
        phones=[{"number": PRIMARY}, {"number": "+44 20 7946 0018", "type": "work"}],
        emails=[{"address": "main@acme.io"}, {"address": "side.line@other.org"}],
    )
    other = create(client, workspace, auth, phone="+14155550199", email="x@y.io")
    refresh = client.patch(
        f"/v1/contacts/{other['id']}?refresh=wait_for", json={"notes": "n"}, headers=auth
    )
    assert refresh.status_code == 200
    assert search(client, workspace, auth, "020 7946 0018") == {contact["id"]}
    assert search(client, workspace, auth, "+442079460018") == {contact["id"]}
    assert search(client, workspace, auth, "60018") == {contact["id"]}
    assert search(client, workspace, auth, "side.line@other.org") == {contact["id"]}
    assert search(client, workspace, auth, "side.li") == {contact["id"]}


# --- the DNC state of every number --------------------------------------------------------


def test_a_listed_secondary_number_is_never_shown_callable(client, workspace, auth):
    contact = create(
        client,
        workspace,
        auth,
        phones=[{"number": PRIMARY, "type": "mobile"}, {"number": SECOND, "type": "home"}],
    )
    clean = create(client, workspace, auth, phone=THIRD)
    listed(client, workspace, auth, SECOND)

    seen = get(client, auth, contact["id"])
    assert seen["dnc"] is True
    assert [(p["number"], p["dnc"]) for p in seen["phones"]] == [(PRIMARY, False), (SECOND, True)]
    assert search(client, workspace, auth, dnc=True) == {contact["id"]}
    assert search(client, workspace, auth, dnc=False) == {clean["id"]}
    [row] = export_rows(client, workspace, auth, dnc="true")
    assert row["id"] == contact["id"] and row["dnc"] == "true"
    assert f"{SECOND} (home, dnc)" in row["phones"]
    assert [r["id"] for r in export_rows(client, workspace, auth, dnc="false")] == [clean["id"]]

    unlisted(client, workspace, auth, SECOND)
    assert get(client, auth, contact["id"])["dnc"] is False
    assert search(client, workspace, auth, dnc=False) == {contact["id"], clean["id"]}


def test_removing_one_listed_number_keeps_a_contact_whose_other_number_is_listed(
    client, workspace, auth
):
    contact = create(client, workspace, auth, phones=[{"number": PRIMARY}, {"number": SECOND}])
    listed(client, workspace, auth, PRIMARY)
    listed(client, workspace, auth, SECOND)
    unlisted(client, workspace, auth, PRIMARY)
    assert get(client, auth, contact["id"])["dnc"] is True
    assert search(client, workspace, auth, dnc=False) == set()
    assert search(client, workspace, auth, dnc=True) == {contact["id"]}


def test_adding_a_listed_number_to_a_contact_flags_it_at_once(client, workspace, auth):
    contact = create(client, workspace, auth, phone=PRIMARY)
    listed(client, workspace, auth, THIRD)
    response = client.patch(
        f"/v1/contacts/{contact['id']}?refresh=wait_for",
        json={"phones": [{"number": PRIMARY}, {"number": THIRD}]},
        headers=auth,
    )
    after = response.json["data"]
    assert after["dnc"] is True and after["phones"][1]["dnc"] is True
    assert search(client, workspace, auth, dnc=False) == set()


def test_concurrent_listing_removing_and_editing_numbers_never_leaves_a_listed_contact_callable(
    app, workspace, auth
):
    """Per contact: numbers A (listed, then removed), B (listed concurrently) and an edit
    that adds C while both happen. At the end every contact holds listed B: no answer may
    call it callable."""
    client = app.test_client()
    contacts = []
    for n in range(6):
        a, b = f"+1415555{2000 + 2 * n:04d}", f"+1415555{2001 + 2 * n:04d}"
        contact = create(client, workspace, auth, phones=[{"number": a}, {"number": b}])
        listed(client, workspace, auth, a)
        contacts.append((contact["id"], a, b))
    errors: list[str] = []

    def run(step):
        local = app.test_client()
        for contact_id, a, b in contacts:
            try:
                step(local, contact_id, a, b)
            except AssertionError as exc:  # collected, asserted below
                errors.append(str(exc))

    def add_b(local, contact_id, a, b):
        listed(local, workspace, auth, b)

    def remove_a(local, contact_id, a, b):
        unlisted(local, workspace, auth, a)

    def add_c(local, contact_id, a, b):
        third = "+1212" + b[-7:]
        patch(local, auth, contact_id, phones=[{"number": a}, {"number": b}, {"number": third}])

    threads = [threading.Thread(target=run, args=(step,)) for step in (add_b, remove_a, add_c)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    ids = {contact_id for contact_id, _, _ in contacts}
    assert search(client, workspace, auth, dnc=False) & ids == set()
    assert search(client, workspace, auth, dnc=True) == ids
    for contact_id, _, b in contacts:
        seen = get(client, auth, contact_id)
        assert seen["dnc"] is True
        assert {p["number"]: p["dnc"] for p in seen["phones"]}[b] is True


def test_unknown_list_state_makes_every_number_null_never_callable(client, workspace, auth):
    """Redis unreachable and the record refusing: each number's `dnc` is null, not false."""

    class Down(TestConfig):
        REDIS_URL = "redis://127.0.0.1:9/0"

    contact = create(client, workspace, auth, phones=[{"number": PRIMARY}, {"number": SECOND}])
    api = create_app(Down)
    client = api.test_client()
    with api.app_context():
        services.dnc().client = Faulty(
            services.dnc().client,
            mget=lambda real, *a, **k: (_ for _ in ()).throw(ConnectionTimeout("T", "x", None)),
        )
    seen = get(client, auth, contact["id"])
    assert seen["dnc"] is None
    assert [p["dnc"] for p in seen["phones"]] == [None, None]
