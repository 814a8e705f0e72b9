"""What an import chunk remembers it wrote (the keys later chunks dedupe against before
search sees them) is, key for key, what computing every written document's dedupe keys
gives, under every policy: rows created, rows merged into a row created earlier in the
same chunk, rows matching contacts stored before, hostile values, several numbers and
addresses per row (app/services/import_runs.py keeps a created row's keys instead of
computing them again from its document)."""

from __future__ import annotations

import pytest

from app.imports.dedupe import dedupe_keys
from app.services.import_runs import ImportRun
from tests.api.test_imports import imported

HEADER = "First Name,Last Name,Phone,Mobile Phone,Email,Work Email,External Id,Notes"


def rows() -> list[str]:
    lines = []
    for n in range(40):
        ext = f"ext-{n % 30}-ü" if n % 4 else ""
        mobile = f"+44 20 7946 {n:04d}" if n % 3 == 0 else ""
        lines.append(
            f"Zoë{n},山田,(415) 555-{1000 + n % 25},{mobile},"
            f"Row{n % 33}@Example.COM,w{n}@x.io,{ext},{'n' * (n * 50)}"
        )
    for n in (30, 20, 11, 2):  # right after an earlier row: merged into it in its chunk
        lines.insert(n + 1, f"Dup{n},,,+1 212 555 {n:04d},row{n}@example.com,,,again")
    lines.append("Ωμέγα,,(415) 555-1003,,,,,")  # a number of an earlier row of this file
    lines.append("Mail,,,,ROW7@example.com,,ext-7-ü,merged")  # an address and an id again
    return lines


@pytest.mark.parametrize("policy", ["skip", "update", "create"])
def test_a_chunks_remembered_keys_are_its_written_documents_keys(
    client, workspace, auth, app, monkeypatch, policy
):
    monkeypatch.setitem(app.config, "IMPORT_CHUNK_ROWS", 7)
    checked: list[int] = []
    plan = ImportRun._plan

    def checking_plan(run, chunk_rows):
        planned = plan(run, chunk_rows)
        expected = {}
        for action in planned.actions.values():
            for key in dedupe_keys(action["_source"]):
                expected[key] = action["_id"]
        assert run._recent_chunks[-1] == (run._chunk_no, expected)
        checked.append(len(planned.actions))
        return planned

    monkeypatch.setattr(ImportRun, "_plan", checking_plan)
    data = ("\n".join([HEADER, *rows()]) + "\n").encode()
    first = imported(client, auth, workspace, data, onDuplicate=policy)
    again = imported(client, auth, workspace, data, onDuplicate=policy)  # matches stored ones
    assert first["counts"]["created"] > 0 and first["counts"]["invalid"] == 0, first
    assert again["counts"]["invalid"] == 0, again
    if policy != "create":
        assert first["counts"]["skipped" if policy == "skip" else "updated"] > 0, first
    assert len(checked) >= 12 and sum(checked) > 0
