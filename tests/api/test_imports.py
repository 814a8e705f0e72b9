"""CSV import over HTTP, flow-style, against the real OpenSearch and Redis."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from app import create_app, services
from app.config import TestConfig
from tests.conftest import bearer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "csv"


def upload(client, auth, workspace, data: bytes, name="contacts.csv", **options):
    form = {"workspaceId": workspace, "file": (io.BytesIO(data), name)}
    for key, value in options.items():
        form[key] = json.dumps(value) if isinstance(value, dict) else str(value).lower()
    return client.post(
        "/v1/contacts/import", data=form, headers=auth, content_type="multipart/form-data"
    )


def imported(client, auth, workspace, data: bytes, **options) -> dict:
    response = upload(client, auth, workspace, data, **options)
    assert response.status_code == 200, response.json
    return response.json["data"]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def contacts_of(client, auth, workspace) -> list[dict]:
    response = client.get(f"/v1/contacts?workspaceId={workspace}&limit=100", headers=auth)
    assert response.status_code == 200, response.json
    return sorted(response.json["data"], key=lambda c: (c["email"] or "", c["phone"] or ""))


def by_email(client, auth, workspace) -> dict[str, dict]:
    return {c["email"]: c for c in contacts_of(client, auth, workspace)}


@pytest.mark.parametrize(
    "name",
    ["utf8.csv", "utf8_bom.csv", "utf16_bom_tab.csv", "utf16le_nobom.csv", "utf16be_nobom.csv"],
)
def test_unicode_files_import_with_their_characters(client, workspace, auth, name):
    result = imported(client, auth, workspace, fixture(name), defaultCountry="US")
    assert result["status"] == "completed"
    assert result["counts"] == {"total": 2, "created": 2, "updated": 0, "skipped": 0, "invalid": 0}
    contacts = by_email(client, auth, workspace)
    zoe = contacts["zoe@example.com"]
    assert (zoe["firstName"], zoe["lastName"], zoe["company"]) == ("Zoë", "Ångström", "Åcme Ltd")
    assert zoe["phone"] == "+14155550101"
    assert contacts["li.wang@example.cn"]["company"] == "北京公司"


def test_windows_1252_semicolon_file_with_german_headers(client, workspace, auth):
    result = imported(client, auth, workspace, fixture("cp1252_semicolon.csv"))
    assert (result["encoding"], result["delimiter"]) == ("cp1252", ";")
    assert result["counts"]["created"] == 2, result
    juergen = by_email(client, auth, workspace)["juergen@beispiel.de"]
    assert juergen["lastName"] == "Müller" and juergen["company"] == "Straße GmbH"
    assert juergen["notes"] == "Preis 5 €" and juergen["phone"] == "+4930901820"


def test_raw_text_csv_body_with_options_in_the_query(client, workspace, auth):
    response = client.post(
        f"/v1/contacts/import?workspaceId={workspace}&onDuplicate=skip",
        data=fixture("latin1.csv"),
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["counts"]["created"] == 2
    assert by_email(client, auth, workspace)["jose@ejemplo.es"]["company"] == "Compañía Ñandú"


def test_quoted_fields_embedded_newlines_and_blank_lines(client, workspace, auth):
    result = imported(client, auth, workspace, fixture("quoted_multiline_crlf.csv"))
    assert result["counts"]["total"] == 3 and result["counts"]["created"] == 3
    contacts = by_email(client, auth, workspace)
    assert contacts["jane@example.com"]["notes"] == 'Said "call me" later'
    assert (
        contacts["jane@example.com"]["firstName"],
        contacts["jane@example.com"]["lastName"],
    ) == (
        "Jane",
        "Doe",
    )
    assert contacts["john@example.com"]["notes"] == "line one\r\nline two\r\nline three"


@pytest.mark.parametrize(
    "name, email, expected",
    [
        (
            "google_contacts.csv",
            "jane.g@example.com",
            {"firstName": "Jane", "lastName": "Doe", "phone": "+14155550110", "company": "Globex"},
        ),
        (
            "outlook.csv",
            "john.o@example.com",
            {"firstName": "John", "lastName": "Public", "phone": "+19175550121"},
        ),
        (
            "hubspot.csv",
            "maria.h@example.com",
            {"firstName": "Maria", "phone": "+13055550130", "company": "Umbrella Corp"},
        ),
    ],
)
def test_export_header_styles_map_automatically(client, workspace, auth, name, email, expected):
    result = imported(client, auth, workspace, fixture(name))
    assert result["counts"]["created"] == 1, result
    contact = by_email(client, auth, workspace)[email]
    assert {key: contact[key] for key in expected} == expected
    assert result["unmappedColumns"], "unmapped columns are listed"
    for column in result["unmappedColumns"]:
        assert result["mapping"][column] == f"customFields.{column}"


def test_outlook_extra_columns_land_in_custom_fields_or_are_ignored(client, workspace, auth):
    imported(client, auth, workspace, fixture("outlook.csv"))
    john = by_email(client, auth, workspace)["john.o@example.com"]
    # Every phone and email column is a number or address of the contact, typed by its
    # header; the first-ranked one (Mobile Phone) is the primary.
    assert [(p["number"], p["type"], p["primary"]) for p in john["phones"]] == [
        ("+19175550121", "mobile", True),
        ("+12125550120", "work", False),
    ]
    assert [e["address"] for e in john["emails"]] == ["john.o@example.com", "jq@home.example.com"]
    assert "Business Phone" not in john["customFields"]
    assert "Home Phone" not in john["customFields"]  # empty cells are left out
    assert john["customFields"]["Job Title"] == "Manager"
    other = bearer("ws_ignore_unmapped")
    result = imported(
        client, other, "ws_ignore_unmapped", fixture("outlook.csv"), unmapped="ignore"
    )
    assert "Job Title" in result["unmappedColumns"] and result["mapping"]["Job Title"] is None


def test_full_name_column_is_split(client, workspace, auth):
    imported(client, auth, workspace, fixture("full_name.csv"))
    contacts = by_email(client, auth, workspace)
    assert (
        contacts["mary@example.com"]["firstName"],
        contacts["mary@example.com"]["lastName"],
    ) == (
        "Mary",
        "Ann Smith",
    )
    assert contacts["john.d@example.com"]["lastName"] == "Doe"
    assert contacts["cher@example.com"]["firstName"] == "Cher"


def test_explicit_mapping(client, workspace, auth):
    data = b"Cell,Org,Mail,Secret\n(415) 555-0160,Hooli,a@example.com,x\n"
    mapping = {"Cell": "phone", "Org": "company", "Mail": "email", "Secret": "ignore"}
    result = imported(client, auth, workspace, data, mapping=mapping)
    contact = by_email(client, auth, workspace)["a@example.com"]
    assert contact["phone"] == "+14155550160" and contact["company"] == "Hooli"
    assert contact["customFields"] == {} and result["mapping"]["Secret"] is None
    bad = upload(client, auth, workspace, data, mapping={"Nope": "phone"})
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "mapping.Nope"
    bad = upload(client, auth, workspace, data, mapping={"Cell": "shoeSize"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "validation_error"


def test_invalid_rows_are_reported_and_valid_rows_imported(client, workspace, auth):
    result = imported(client, auth, workspace, fixture("partial_invalid.csv"))
    assert result["counts"] == {"total": 4, "created": 2, "updated": 0, "skipped": 0, "invalid": 2}
    errors = {(e["line"], e["field"]): e for e in result["errors"]}
    assert errors[(3, "phone")]["value"] == "12"
    assert errors[(4, "email")]["value"] == "not-an-email"
    assert len(contacts_of(client, auth, workspace)) == 2

    report = client.get(result["errorsUrl"], headers=auth)
    assert report.status_code == 200 and report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.data.decode())))
    assert rows[0] == ["import_line", "import_error", "First Name", "Last Name", "Phone", "Email"]
    assert rows[1][:2] == ["3", rows[1][1]] and rows[1][2:] == [
        "Bad",
        "Phone",
        "12",
        "badphone@example.com",
    ]
    assert "phone" in rows[1][1] and rows[2][0] == "4" and "email" in rows[2][1]
    assert len(rows) == 3


def test_ragged_rows_are_reported_not_fatal(client, workspace, auth):
    result = imported(client, auth, workspace, fixture("ragged.csv"))
    assert result["counts"]["created"] == 3 and result["counts"]["invalid"] == 2
    assert {e["line"] for e in result["errors"]} == {3, 4}
    assert all(e["field"] == "row" for e in result["errors"])


def test_errors_csv_is_404_for_other_workspaces_and_clean_imports(client, workspace, auth):
    result = imported(client, auth, workspace, fixture("partial_invalid.csv"))
    other = bearer("ws_nosy")
    assert client.get(result["errorsUrl"], headers=other).status_code == 404
    assert client.get(f"/v1/contacts/imports/{result['id']}", headers=other).status_code == 404
    clean = imported(client, auth, workspace, fixture("pipe.csv"))
    assert clean["errorsUrl"] is None
    fetched = client.get(f"/v1/contacts/imports/{clean['id']}", headers=auth)
    assert fetched.status_code == 200 and fetched.json["data"]["status"] == "completed"


# --- dedupe ---------------------------------------------------------------------------

SEED = b"First Name,Last Name,Phone,Email,Notes\nJane,Doe,(415) 555-0170,jane@example.com,first\n"
AGAIN = (
    b"First Name,Last Name,Phone,Email,Notes\n"
    b"Janet,,415.555.0170,,second\n"  # same phone, other format
    b"Bob,Roe,,JANE@EXAMPLE.COM,\n"  # same email, other case
    b"New,Person,(415) 555-0171,new@example.com,\n"
    b"New,Twin,,new@example.com,twin\n"  # duplicate inside the file
)


def test_reimporting_the_same_file_with_skip_creates_nothing(client, workspace, auth):
    first = imported(client, auth, workspace, fixture("utf8.csv"))
    again = imported(client, auth, workspace, fixture("utf8.csv"))
    assert first["counts"]["created"] == 2
    assert again["counts"] == {"total": 2, "created": 0, "updated": 0, "skipped": 2, "invalid": 0}
    assert len(contacts_of(client, auth, workspace)) == 2


def test_skip_policy_against_existing_and_within_the_file(client, workspace, auth):
    imported(client, auth, workspace, SEED)
    result = imported(client, auth, workspace, AGAIN, onDuplicate="skip")
    assert result["counts"] == {"total": 4, "created": 1, "updated": 0, "skipped": 3, "invalid": 0}
    contacts = contacts_of(client, auth, workspace)
    assert len(contacts) == 2
    jane = by_email(client, auth, workspace)["jane@example.com"]
    assert jane["firstName"] == "Jane" and jane["notes"] == "first"


def test_update_policy_merges_into_the_existing_contact(client, workspace, auth):
    seeded = imported(client, auth, workspace, SEED)
    assert seeded["counts"]["created"] == 1
    result = imported(client, auth, workspace, AGAIN, onDuplicate="update")
    assert result["counts"] == {"total": 4, "created": 1, "updated": 3, "skipped": 0, "invalid": 0}
    contacts = by_email(client, auth, workspace)
    assert len(contacts) == 2
    jane = contacts["jane@example.com"]
    # Later rows win field by field; empty cells never clear a field.
    assert (jane["firstName"], jane["lastName"], jane["notes"]) == ("Bob", "Roe", "second")
    assert jane["phone"] == "+14155550170"
    assert contacts["new@example.com"]["lastName"] == "Twin"
    assert contacts["new@example.com"]["notes"] == "twin"


def test_create_policy_imports_duplicates_as_new_contacts(client, workspace, auth):
    imported(client, auth, workspace, SEED)
    result = imported(client, auth, workspace, AGAIN, onDuplicate="create")
    assert result["counts"]["created"] == 4
    assert len(contacts_of(client, auth, workspace)) == 5


def test_duplicates_across_chunks_of_one_file(client, workspace, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_CHUNK_ROWS", 3)
    lines = ["First Name,Phone,Email"]
    lines += [f"P{i},(415) 555-{1000 + i},p{i}@example.com" for i in range(7)]
    lines += ["Again,(415) 555-1001,", "Mail,,P5@EXAMPLE.COM"]
    data = ("\n".join(lines) + "\n").encode()
    result = imported(client, auth, workspace, data, onDuplicate="skip")
    assert result["counts"]["created"] == 7 and result["counts"]["skipped"] == 2
    result = imported(client, bearer("ws_chunks_upd"), "ws_chunks_upd", data, onDuplicate="update")
    assert result["counts"]["created"] == 7 and result["counts"]["updated"] == 2, result
    contacts = contacts_of(client, bearer("ws_chunks_upd"), "ws_chunks_upd")
    assert len(contacts) == 7
    assert {c["firstName"] for c in contacts} >= {"Again", "Mail"}


def test_dry_run_counts_everything_and_writes_nothing(client, workspace, auth):
    imported(client, auth, workspace, SEED)
    result = imported(client, auth, workspace, AGAIN, onDuplicate="skip", dryRun=True)
    assert result["dryRun"] is True
    assert result["counts"] == {"total": 4, "created": 1, "updated": 0, "skipped": 3, "invalid": 0}
    invalid = imported(client, auth, workspace, fixture("partial_invalid.csv"), dryRun=True)
    assert invalid["counts"]["invalid"] == 2 and invalid["errors"]
    assert len(contacts_of(client, auth, workspace)) == 1


# --- limits and refusals --------------------------------------------------------------


def test_empty_and_header_only_files_give_a_clear_result(client, workspace, auth):
    for name, warning in (
        ("empty.csv", "empty"),
        ("blank_lines_only.csv", "empty"),
        ("header_only.csv", "no rows"),
    ):
        result = imported(client, auth, workspace, fixture(name))
        assert result["status"] == "completed"
        assert result["counts"]["total"] == 0 and warning in result["warnings"][0]


@pytest.mark.parametrize("name", ["not_csv.xlsx", "binary.bin"])
def test_a_file_that_is_not_csv_is_a_clear_4xx(client, workspace, auth, name):
    response = upload(client, auth, workspace, fixture(name))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_csv"
    assert "CSV" in response.json["error"]["message"]


def test_over_the_size_limit_is_413_in_the_error_shape(client, workspace, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_IMPORT_BYTES", 2000)
    big = b"Name,Email\n" + b"Someone,someone@example.com\n" * 200
    response = upload(client, auth, workspace, big)
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"
    raw = client.post(
        f"/v1/contacts/import?workspaceId={workspace}",
        data=big,
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert raw.status_code == 413 and raw.json["error"]["code"] == "payload_too_large"


def test_an_import_may_exceed_the_json_body_limit(client, workspace, auth, app):
    body = b"First Name,Email\n" + b"".join(
        b"N%d,n%d@example.com\n" % (i, i) for i in range(60_000)
    )
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]
    response = upload(client, auth, workspace, body, dryRun=True)
    assert response.status_code in (200, 202), response.json


def test_column_line_and_field_limits(client, workspace, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_COLUMNS", 3)
    monkeypatch.setitem(app.config, "IMPORT_MAX_LINE_CHARS", 200)
    monkeypatch.setitem(app.config, "IMPORT_MAX_FIELD_CHARS", 50)
    app.extensions["wiring"].forget("imports")  # limits are read when it is built
    try:
        wide = upload(client, auth, workspace, b"a,b,c,d\n1,2,3,4\n")
        assert wide.status_code == 422 and wide.json["error"]["code"] == "csv_limit_exceeded"
        long_line = b"First Name,Notes\nA,ok\nB," + b"x" * 300 + b"\n"
        response = upload(client, auth, workspace, long_line)
        assert response.status_code == 422 and "Line 3" in response.json["error"]["message"]
        assert contacts_of(client, auth, workspace) == []  # nothing written before the check
        long_field = b"First Name,Notes\nA,ok\nB," + b"y" * 60 + b"\n"
        result = imported(client, auth, workspace, long_field)
        assert result["counts"]["created"] == 1 and result["counts"]["invalid"] == 1
        assert result["errors"][0]["field"] == "Notes"
    finally:
        app.extensions["wiring"].forget("imports")


def test_bad_requests(client, workspace, auth):
    no_file = client.post(
        "/v1/contacts/import",
        data={"workspaceId": workspace},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert no_file.status_code == 400 and no_file.json["error"]["details"][0]["field"] == "file"
    as_json = client.post("/v1/contacts/import", json={"workspaceId": workspace}, headers=auth)
    assert as_json.status_code == 415
    bad_option = upload(client, auth, workspace, SEED, onDuplicate="merge")
    assert bad_option.status_code == 400
    assert bad_option.json["error"]["details"][0]["field"] == "onDuplicate"
    other = upload(client, auth, "ws_not_mine", SEED)
    assert other.status_code == 403
    read_only = bearer(workspace, scope="contacts:read")
    assert upload(client, read_only, workspace, SEED).status_code == 403
    assert client.get("/v1/contacts/imports/imp_missing", headers=auth).status_code == 404
    assert upload(client, {}, workspace, SEED).status_code == 401


def test_an_inline_import_whose_lock_redis_lost_is_not_a_500(workspace, auth):
    """Redis restarted or wiped mid-import: the run's lock is gone. The import answers
    where it stands (the worker's recovery resumes it), never a 500."""
    api = create_app(TestConfig)
    with api.app_context():
        service = services.imports()
        real_save = service._save_owned

        def lose_lock_once(record, token):
            if record["status"] == "running" and not getattr(lose_lock_once, "done", False):
                lose_lock_once.done = True
                service.redis.delete(service._lock_key(record["workspaceId"], record["id"]))
            return real_save(record, token)

        service._save_owned = lose_lock_once
    response = api.test_client().post(
        f"/v1/contacts/import?workspaceId={workspace}",
        data=b"First Name,Phone\nLock,+14155550181\n",
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.json
    assert response.json["data"]["status"] in ("queued", "running")
    assert response.headers["Location"].endswith(response.json["data"]["id"])
