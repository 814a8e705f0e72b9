"""CSV imports of several phones and emails per contact, and the duplicate report: rows
repeating an earlier row of the file apart from rows matching a contact already there."""

from __future__ import annotations

from tests.api.test_imports import contacts_of, imported
from tests.conftest import bearer


def numbers(contact):
    return [(p["number"], p["type"], p["primary"]) for p in contact["phones"]]


def test_google_numbered_columns_are_typed_by_their_type_and_label_columns(client, workspace, auth):
    data = (
        b"Given Name,Family Name,Phone 1 - Type,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value,"
        b"E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value\n"
        b"Ada,King,Work,(415) 555-0170,* Mobile,(415) 555-0171,"
        b"* Home,ada@home.io,Work,ada@work.io\n"
    )
    result = imported(client, auth, workspace, data)
    assert result["counts"]["created"] == 1, result
    assert result["mapping"]["Phone 2 - Value"] == "phones.other"
    assert result["mapping"]["Phone 1 - Type"] is None  # read with its value column
    assert result["unmappedColumns"] == []
    [ada] = contacts_of(client, auth, workspace)
    assert numbers(ada) == [("+14155550170", "work", True), ("+14155550171", "mobile", False)]
    assert [(e["address"], e["type"]) for e in ada["emails"]] == [
        ("ada@home.io", "home"),
        ("ada@work.io", "work"),
    ]


def test_a_row_without_its_first_number_takes_the_next_column_as_primary(client, workspace, auth):
    data = b"Name,Mobile Phone,Home Phone\nBo Lee,,(415) 555-0172\n"
    imported(client, auth, workspace, data)
    [bo] = contacts_of(client, auth, workspace)
    assert bo["phone"] == "+14155550172" and numbers(bo) == [("+14155550172", "home", True)]


def test_an_invalid_secondary_number_fails_the_row_naming_its_cell(client, workspace, auth):
    data = b"Name,Mobile Phone,Business Phone\nCy Ray,(415) 555-0173,not a number\n"
    result = imported(client, auth, workspace, data)
    assert result["counts"]["invalid"] == 1 and result["counts"]["created"] == 0
    [error] = result["errors"]
    assert error["field"] == "phones.1.number" and error["value"] == "not a number"


def test_a_row_matching_any_number_of_an_existing_contact_is_its_duplicate(client, workspace, auth):
    existing = client.post(
        "/v1/contacts?refresh=wait_for",
        json={
            "workspaceId": workspace,
            "firstName": "Dee",
            "phones": [{"number": "+14155550174"}, {"number": "+14155550175", "type": "home"}],
            "emails": [{"address": "dee@a.io"}, {"address": "dee@b.io"}],
        },
        headers=auth,
    ).json["data"]
    data = (
        b"Name,Phone,Email\n"
        b"Dee Dup,(415) 555-0175,\n"  # the existing contact's second number
        b"Dee Mail,,dee@b.io\n"  # its second address
        b"Eve New,(415) 555-0176,eve@x.io\n"
        b"Eve Again,,eve@x.io\n"  # repeats the row above
    )
    result = imported(client, auth, workspace, data, onDuplicate="skip")
    assert result["counts"] == {"total": 4, "created": 1, "updated": 0, "skipped": 3, "invalid": 0}
    duplicates = result["duplicates"]
    assert (duplicates["inFile"], duplicates["existing"]) == (1, 2)
    assert [(d["line"], d["of"], d["outcome"]) for d in duplicates["first"]] == [
        (2, "existing", "skipped"),
        (3, "existing", "skipped"),
        (5, "inFile", "skipped"),
    ]
    assert duplicates["first"][0]["contactId"] == existing["id"]


def test_an_update_import_keeps_every_number_and_makes_the_rows_number_primary(
    client, workspace, auth
):
    client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Flo", "phone": "+14155550177"},
        headers=auth,
    )
    data = b"Email,Mobile Phone,Business Phone\nflo@x.io,(415) 555-0178,(415) 555-0177\n"
    result = imported(client, auth, workspace, data, onDuplicate="update")
    assert result["counts"]["updated"] == 1 and result["duplicates"]["existing"] == 1
    [flo] = contacts_of(client, auth, workspace)
    assert flo["phone"] == "+14155550178" and flo["email"] == "flo@x.io"
    assert numbers(flo) == [("+14155550178", "mobile", True), ("+14155550177", "work", False)]


def test_a_dry_run_reports_in_file_duplicates_too(client, workspace, auth):
    data = b"Name,Phone\nGus A,(415) 555-0179\nGus B,415-555-0179\n"
    result = imported(client, auth, workspace, data, dryRun=True)
    assert result["duplicates"]["inFile"] == 1 and result["duplicates"]["existing"] == 0
    assert contacts_of(client, auth, workspace) == []


def test_the_export_of_several_numbers_imports_back_the_same(client, workspace, auth):
    client.post(
        "/v1/contacts?refresh=wait_for",
        json={
            "workspaceId": workspace,
            "firstName": "Hal",
            "phones": [
                {"number": "+14155550180", "type": "mobile"},
                {"number": "+442079460180", "type": "work", "primary": True},
            ],
            "emails": [{"address": "hal@x.io", "type": "home"}, {"address": "h@y.io"}],
        },
        headers=auth,
    )
    exported = client.get(f"/v1/contacts/export?workspaceId={workspace}", headers=auth)
    target = workspace + "_copy"
    other = bearer(target)
    result = imported(client, other, target, exported.data)
    assert result["counts"]["created"] == 1, result
    [before] = contacts_of(client, auth, workspace)
    [after] = contacts_of(client, other, target)
    assert numbers(after) == numbers(before)
    assert after["emails"] == before["emails"]
