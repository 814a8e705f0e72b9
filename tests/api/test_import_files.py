"""Import files on disk: they live no longer than their import, and a workspace's share
of the disk is capped. Each test has its own IMPORT_DIR, so its sweeps never touch the
files of another test run on the same machine.
"""

from __future__ import annotations

import csv
import io
import os
import time

import pytest

from app import create_app, services
from app.config import TestConfig
from app.imports.files import environment_root
from tests.api.test_imports import upload
from tests.conftest import bearer

BAD_ROWS = "".join(f"Row{i},Bad,not-an-email-{i}\n" for i in range(20))
HEADER = "firstName,lastName,email\n"


@pytest.fixture
def make_app(app, tmp_path):  # `app` made the indices
    def make(**settings):
        config = type("FilesConfig", (TestConfig,), {"IMPORT_DIR": str(tmp_path), **settings})
        return create_app(config)

    return make


def root_of(app) -> str:
    """This run's folder under IMPORT_DIR (named after its Redis key prefix)."""
    return str(environment_root(app.config["IMPORT_DIR"], app.config["REDIS_KEY_PREFIX"]))


def folders(root: str, workspace: str) -> list[str]:
    path = os.path.join(root, workspace)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def sweep(app) -> int:
    with app.app_context():
        return services.imports().sweep_files()


def test_an_expired_import_takes_its_error_report_with_it(make_app, workspace, auth):
    app = make_app(IMPORT_RETENTION_SECONDS=1, IMPORT_ORPHAN_GRACE_SECONDS=0)
    client = app.test_client()
    response = upload(client, auth, workspace, (HEADER + BAD_ROWS).encode())
    assert response.status_code == 200, response.json
    record = response.json["data"]
    folder = os.path.join(root_of(app), workspace, record["id"])
    assert os.listdir(folder) == ["errors.csv"]  # the upload went when the run ended
    assert sweep(app) == 0  # the record is alive: its report stays
    assert client.get(record["errorsUrl"], headers=auth).status_code == 200
    time.sleep(1.5)  # the record expires in Redis
    assert client.get(f"/v1/contacts/imports/{record['id']}", headers=auth).status_code == 404
    assert sweep(app) == 1
    assert not os.path.exists(folder)
    assert folders(root_of(app), workspace) == []


def test_a_failed_import_keeps_no_upload(make_app, workspace, auth):
    app = make_app(IMPORT_MAX_LINE_CHARS=200)
    client = app.test_client()
    data = HEADER + "Ann,Lee,ann@example.com\n" + "Bob,Lee," + "x" * 300 + "\n"
    response = upload(client, auth, workspace, data.encode())
    assert response.status_code == 422, response.json
    (import_id,) = folders(root_of(app), workspace)
    assert "upload.csv" not in os.listdir(os.path.join(root_of(app), workspace, import_id))


def test_the_sweep_removes_stranded_files_but_not_an_upload_in_progress(make_app, workspace):
    app = make_app(IMPORT_ORPHAN_GRACE_SECONDS=60)
    root = root_of(app)
    stranded, writing = (os.path.join(root, workspace, name) for name in ("imp_old", "imp_new"))
    for folder in (stranded, writing):
        os.makedirs(folder)
        with open(os.path.join(folder, "upload.csv"), "w") as out:
            out.write(HEADER)
    hour_ago = time.time() - 3600  # a process died between the upload and its record
    for path in (os.path.join(stranded, "upload.csv"), stranded):
        os.utime(path, (hour_ago, hour_ago))
    # Another environment's files (its records live under another prefix) are not ours.
    foreign = os.path.join(os.path.dirname(root), "other_env", workspace, "imp_old")
    os.makedirs(foreign)
    os.utime(foreign, (hour_ago, hour_ago))
    assert sweep(app) == 1
    assert folders(root, workspace) == ["imp_new"]
    assert os.path.isdir(foreign)


def test_a_workspace_past_its_import_storage_cap_gets_507_and_keeps_nothing(
    make_app, workspace, auth
):
    app = make_app(IMPORT_WORKSPACE_MAX_BYTES=800, IMPORT_SYNC_MAX_BYTES=100)
    client = app.test_client()
    root = root_of(app)
    held = upload(client, auth, workspace, (HEADER + BAD_ROWS).encode())
    assert held.status_code in (200, 202), held.json
    before = folders(root, workspace)
    big = (HEADER + "".join(f"N{i},L,n{i}@example.com\n" for i in range(60))).encode()
    assert len(big) > 800
    for data in (big, (HEADER + BAD_ROWS).encode()):  # too big alone; too big with the first
        refused = upload(client, auth, workspace, data)
        assert refused.status_code == 507, refused.json
        error = refused.json["error"]
        assert error["code"] == "import_storage_full"
        assert "800 bytes" in error["message"] and error["details"][0]["field"] == "file"
        assert folders(root, workspace) == before  # the refused upload left nothing
    # Another workspace has its own share.
    other = f"{workspace}_b"
    assert upload(client, bearer(other), other, (HEADER + BAD_ROWS).encode()).status_code in (
        200,
        202,
    )


def test_errors_csv_cells_are_formula_neutralized_like_the_export(make_app, workspace, auth):
    client = make_app().test_client()
    data = (
        "=cmd|' /C calc'!A0,lastName,email\n"
        '"=HYPERLINK(""http://evil.example"",""x"")",+Lee,not-an-email\n'
    )
    response = upload(client, auth, workspace, data.encode())
    assert response.status_code == 200, response.json
    report = client.get(response.json["data"]["errorsUrl"], headers=auth).get_data(as_text=True)
    header, row = list(csv.reader(io.StringIO(report)))
    assert header[2] == "'=cmd|' /C calc'!A0"
    assert row[2:] == ['\'=HYPERLINK("http://evil.example","x")', "'+Lee", "not-an-email"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header + row)
