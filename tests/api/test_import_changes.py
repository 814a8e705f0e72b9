"""The change feed of a CSV import, recorded from the documents each chunk's bulk stored
(app/services/import_runs.py, `written`) instead of read back: the same change documents
as the read-back, for created and updated rows with hostile values."""

from __future__ import annotations

import csv
import io
import random

from app.search.documents import CONTACT_FIELDS
from tests.api.test_changes import spy_full_reads, walk

HEADER = ["firstName", "lastName", "phone", "email", "company", "tags", "notes", "externalId"]
TEXT = ["Zoë", "山田", "O'Brien", "=cmd|' /C calc'!A0", '"quoted, comma"', "x" * 200, "Ａｎｎａ"]
TEXT.append("")


def csv_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def generated_rows(rng: random.Random, count: int, note: str) -> list[list[str]]:
    return [
        [
            rng.choice(TEXT) or "Name",
            rng.choice(TEXT),
            f"+1 (415) 555-{n:04d}",
            f"Row{n}@Example.com",
            rng.choice(TEXT),
            rng.choice(["vip", "lead;Zoë", ""]),
            note,
            f"imp-{n}-{rng.choice(['ä', '山', 'x'])}",
        ]
        for n in range(count)
    ]


def run_import(client, workspace, auth, body: bytes, policy: str) -> dict:
    response = client.post(
        "/v1/contacts/import",
        headers=auth,
        data={
            "workspaceId": workspace,
            "onDuplicate": policy,
            "file": (io.BytesIO(body), "contacts.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    return response.json["data"]


def read_back(app, workspace: str, ids: list[str]) -> dict[str, dict]:
    current = app.extensions["wiring"].changes.records.read_contacts(workspace, ids)
    return {i: {f: state.get(f) for f in CONTACT_FIELDS} for i, state in current.items()}


def test_an_imports_changes_are_exactly_what_reading_the_contacts_back_would_record(
    app, client, workspace, auth, monkeypatch
):
    read_in_full = spy_full_reads(app, monkeypatch)
    rng = random.Random(14)
    created = run_import(client, workspace, auth, csv_file(generated_rows(rng, 60, "")), "skip")
    assert created["counts"]["created"] == 60, created
    assert read_in_full == []  # recorded from what the bulk stored
    events, cursor = walk(client, workspace, auth)
    ids = [e["contactId"] for e in events]
    assert len(set(ids)) == 60 and {e["type"] for e in events} == {"contact.created"}
    assert {e["contactId"]: e["contact"] for e in events} == read_back(app, workspace, ids)

    rows = generated_rows(random.Random(14), 60, "imported again")
    updated = run_import(client, workspace, auth, csv_file(rows), "update")
    assert updated["counts"]["updated"] == 60, updated
    events, _ = walk(client, workspace, auth, cursor=cursor)
    assert {e["type"] for e in events} == {"contact.updated"}
    assert {e["contactId"]: e["contact"] for e in events} == read_back(app, workspace, ids)
    assert all(e["contact"]["notes"] == "imported again" for e in events)
