"""The `contacts` command line end to end, against the real servers, in this run's
index and key prefixes (tests/conftest.py puts them in the environment the commands
inherit)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import jwt

from app.config import Config
from app.search.indices import (
    IndexNames,
    current_index,
    drop_all,
    load_definition,
    outdated_fields,
    point_aliases,
)

CONTACTS = Path(sys.executable).with_name("contacts")
LISTED, CALLABLE = "+14155550181", "+14155550182"


def contacts(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONTACTS), *args], capture_output=True, text=True, timeout=120)


def exported_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_a_minted_token_grants_its_workspaces_and_scopes_only(client, workspace):
    result = contacts("mint-token", "--workspace", workspace, "--scope", "contacts:read")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = jwt.decode(token, Config.JWT_SECRET, algorithms=["HS256"])
    assert claims["workspaces"] == [workspace] and claims["exp"] - claims["iat"] == 3600
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).status_code == 200
    body = {"workspaceId": workspace, "firstName": "Jane", "phone": CALLABLE}
    assert client.post("/v1/contacts", json=body, headers=auth).status_code == 403
    other = client.get("/v1/contacts?workspaceId=ws_someone_else", headers=auth)
    assert other.status_code == 403


def test_import_then_export_by_dnc_then_reconcile(client, workspace, auth, tmp_path):
    source = tmp_path / "people.csv"
    source.write_text(
        "First Name,Last Name,Phone,Company\n"
        f"Ada,Lovelace,{LISTED},Analytical\n"
        f"Alan,Turing,{CALLABLE},Bletchley\n"
        "Bad,Number,12,Nowhere\n"
    )
    imported = contacts("import", str(source), "--workspace", workspace)
    assert imported.returncode == 0, imported.stderr
    record = json.loads(imported.stdout)
    assert record["status"] == "completed", record
    assert record["counts"]["created"] == 2 and record["counts"]["invalid"] == 1
    assert "line 4: phone" in imported.stderr  # the first row errors, with their lines

    added = client.post("/v1/dnc", json={"workspaceId": workspace, "phone": LISTED}, headers=auth)
    assert added.status_code == 201, added.json

    callable_csv, listed_csv = tmp_path / "callable.csv", tmp_path / "listed.csv"
    for flag, out in (("false", callable_csv), ("true", listed_csv)):
        result = contacts("export", "--workspace", workspace, "--dnc", flag, "--out", str(out))
        assert result.returncode == 0, result.stderr
    assert [(r["lastName"], r["dnc"]) for r in exported_rows(callable_csv)] == [("Turing", "false")]
    assert [(r["lastName"], r["dnc"]) for r in exported_rows(listed_csv)] == [("Lovelace", "true")]

    rebuilt = contacts("rebuild-dnc-cache", "--workspace", workspace)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["numbers"] == 1
    reconciled = contacts("reconcile", "--workspace", workspace)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr  # nothing drifted
    assert json.loads(reconciled.stdout)["workspaceId"] == workspace


def test_refused_files_and_bad_options_exit_non_zero_and_say_why(workspace, tmp_path):
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "csv"
    refused = contacts("import", str(fixtures / "binary.bin"), "--workspace", workspace)
    assert refused.returncode == 1 and refused.stderr.startswith("invalid_csv: ")
    empty = contacts("import", str(fixtures / "empty.csv"), "--workspace", workspace)
    assert empty.returncode == 0 and "warning: " in empty.stderr
    bad_country = contacts(
        "import", str(fixtures / "empty.csv"), "--workspace", workspace, "--mapping", "{not json"
    )
    assert bad_country.returncode == 2 and "invalid options" in bad_country.stderr
    bad_workspace = contacts("export", "--workspace", "not a workspace")
    assert bad_workspace.returncode == 2 and "workspaceId" in bad_workspace.stderr


def test_an_index_older_than_its_mapping_file_is_named_then_upgraded(app):
    """A contacts index created before externalId and the phones list existed (strict:
    it refuses writes that carry them): init-indices names it and what it lacks,
    --upgrade reindexes it with no downtime to the file's version."""
    client = app.extensions["opensearch"]
    prefix = f"{app.config['INDEX_PREFIX']}upg-{uuid.uuid4().hex[:6]}-"
    names = IndexNames(prefix, "contacts")
    old = load_definition("contacts")
    for field in ("externalId", "phones"):
        del old["mappings"]["properties"][field]
    client.indices.create(index=names.version(1), body=old)
    point_aliases(client, names, names.version(1))
    env = {**os.environ, "INDEX_PREFIX": prefix}
    try:
        named = subprocess.run(
            [str(CONTACTS), "init-indices"], capture_output=True, text=True, timeout=120, env=env
        )
        assert named.returncode == 0, named.stderr
        [line] = [x for x in named.stdout.splitlines() if f"{prefix}contacts ->" in x]
        assert "lacks" in line and "externalId" in line and "phones" in line, line
        assert "--upgrade" in named.stderr and "contacts" in named.stderr
        assert current_index(client, names) == names.version(1)
        upgraded = subprocess.run(
            [str(CONTACTS), "init-indices", "--upgrade"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert upgraded.returncode == 0, upgraded.stderr
        assert current_index(client, names) == names.version(2)
        assert outdated_fields(client, prefix, "contacts") == []
    finally:
        drop_all(client, prefix)
