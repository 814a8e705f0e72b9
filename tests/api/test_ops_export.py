"""CSV export over HTTP against the real OpenSearch: fields, filters, formulas, gzip, re-import."""

from __future__ import annotations

import csv
import gzip
import io
import uuid

import pytest

from tests.conftest import bearer


def create(client, auth, workspace, **fields):
    body = {"workspaceId": workspace, **fields}
    response = client.post("/v1/contacts?refresh=wait_for", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json["data"]


def rows_of(data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def export(client, auth, workspace, query: str = "", **headers):
    url = f"/v1/contacts/export?workspaceId={workspace}{query}"
    return client.get(url, headers={**auth, **headers})


@pytest.fixture
def small_pages(app):
    """Pages of 3 rows, so a handful of contacts already spans several search_after pages."""
    with app.app_context():
        from app import services

        service = services.export()
        service.page_size, before = 3, service.page_size
        yield
        service.page_size = before


def test_export_streams_every_field_across_pages(client, workspace, auth, small_pages):
    made = [
        create(
            client,
            auth,
            workspace,
            firstName=f"Ann{n}",
            lastName="Lee",
            phone=f"+1415555{n:04d}",
            email=f"ann{n}@example.com",
            company="Acme",
            notes="line one\nline two, with a comma",
            tags=["vip", "q3"] if n % 2 else [],
            customFields={"plan": f"p{n}", "seats": n} if n % 3 else {"region": "emea"},
        )
        for n in range(8)
    ]
    response = export(client, auth, workspace)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.is_streamed
    rows = rows_of(response.data)
    assert sorted(r["id"] for r in rows) == sorted(c["id"] for c in made)
    assert [r["createdAt"] for r in rows] == sorted(c["createdAt"] for c in made)
    rows = sorted(rows, key=lambda r: r["firstName"])
    assert list(rows[0])[:14] == [
        "id",
        "workspaceId",
        "firstName",
        "lastName",
        "phone",
        "email",
        "company",
        "notes",
        "tags",
        "externalId",
        "source",
        "createdAt",
        "updatedAt",
        "dnc",
    ]
    assert list(rows[0])[14:16] == ["phones", "emails"]
    assert list(rows[0])[16:] == ["customFields.plan", "customFields.region", "customFields.seats"]
    one = rows[1]
    assert one["phone"] == "'+14155550001"  # a leading + is neutralized like any formula
    assert one["phones"] == "'+14155550001 (other, primary)"
    assert one["tags"] == "vip, q3" and one["notes"] == "line one\nline two, with a comma"
    assert (one["customFields.plan"], one["customFields.seats"], one["customFields.region"]) == (
        "p1",
        "1",
        "",
    )
    assert rows[0]["customFields.region"] == "emea" and rows[0]["dnc"] == "false"
    assert one["createdAt"] == made[1]["createdAt"]


def test_formula_cells_are_neutralized(client, workspace, auth):
    create(
        client,
        auth,
        workspace,
        firstName='=HYPERLINK("http://evil","x")',
        lastName="@SUM(A1)",
        company="-2+3",
        email="plain@example.com",
        customFields={"note": "+cmd|' /C calc'!A0", "cr": "\rx", "tab": "\tcmd"},
    )
    row = rows_of(export(client, auth, workspace).data)[0]
    assert row["firstName"] == '\'=HYPERLINK("http://evil","x")'
    assert row["lastName"] == "'@SUM(A1)"
    assert row["company"] == "'-2+3"
    assert row["customFields.tab"] == "'\tcmd"
    assert row["customFields.note"] == "'+cmd|' /C calc'!A0"
    assert row["customFields.cr"].startswith("'")
    assert row["email"] == "plain@example.com"


def test_search_filters_apply_and_gzip_when_asked(client, workspace, auth):
    create(client, auth, workspace, firstName="Vip", company="Acme", tags=["vip"])
    create(client, auth, workspace, firstName="Other", company="Globex", tags=["cold"])
    create(client, auth, workspace, firstName="Both", company="Acme", tags=["cold"])

    by_tag = rows_of(export(client, auth, workspace, "&tags=vip").data)
    assert [r["firstName"] for r in by_tag] == ["Vip"]
    by_company = rows_of(export(client, auth, workspace, "&company=acme").data)
    assert sorted(r["firstName"] for r in by_company) == ["Both", "Vip"]

    plain = export(client, auth, workspace).data
    encoded = export(client, auth, workspace, **{"Accept-Encoding": "gzip"})
    assert encoded.headers["Content-Encoding"] == "gzip"
    assert rows_of(gzip.decompress(encoded.data)) == rows_of(plain)
    download = export(client, auth, workspace, "&gzip=true")
    assert download.mimetype == "application/gzip"
    assert "Content-Encoding" not in download.headers
    assert download.headers["Content-Disposition"].endswith('.csv.gz"')
    assert rows_of(gzip.decompress(download.data)) == rows_of(plain)


def test_export_checks_the_workspace_scope_and_filters(client, workspace, auth):
    other = f"ws_{uuid.uuid4().hex[:12]}"
    assert export(client, auth, other).status_code == 403
    no_read = bearer(workspace, scope="contacts:write")
    assert export(client, no_read, workspace).status_code == 403
    bad = export(client, auth, workspace, "&createdFrom=yesterday")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "validation_error"
    empty = export(client, auth, workspace)
    assert empty.status_code == 200 and rows_of(empty.data) == []


def test_export_then_import_into_another_workspace_gives_the_same_contacts(client, workspace):
    target = f"ws_{uuid.uuid4().hex[:12]}"
    auth = bearer([workspace, target])
    for n in range(5):
        create(
            client,
            auth,
            workspace,
            firstName=f"Zoë{n}",
            lastName="Ångström",
            phone=f"+4930901820{n}",
            email=f"zoe{n}@example.com",
            company="Åcme Ltd",
            notes=f"Met at the fair, day {n}",
            tags=["vip", "berlin"],
            customFields={"plan": "premium", "seats": str(n)},
            externalId=f"crm-{n}",
            source="fair",
        )
    # Values a spreadsheet would run as formulas are neutralized on export, restored on import.
    create(
        client,
        auth,
        workspace,
        firstName="=SUM(A1)",
        lastName="-Dash",
        company="@corp",
        email="formula@example.com",
        customFields={"note": "+1 more"},
    )
    exported = export(client, auth, workspace)
    # No mapping and no options: the importer knows the export's own columns.
    form = {"workspaceId": target, "file": (io.BytesIO(exported.data), "export.csv")}
    response = client.post(
        "/v1/contacts/import", data=form, headers=auth, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["counts"]["created"] == 6, response.json
    assert response.json["data"]["unmappedColumns"] == [], response.json

    def contacts(ws):
        listing = client.get(f"/v1/contacts?workspaceId={ws}&limit=100", headers=auth).json
        keep = (
            *("firstName", "lastName", "phone", "email", "company", "notes", "customFields"),
            *("externalId", "source"),
        )
        return sorted(
            ({k: c[k] for k in keep} | {"tags": sorted(c["tags"])} for c in listing["data"]),
            key=lambda c: c["email"],
        )

    assert contacts(target) == contacts(workspace)
