"""Import in the browser: file -> dry-run preview with an edited column mapping ->
import on the worker with a progress bar -> the failed rows file."""

from __future__ import annotations

import csv
import io

from tests.conftest import bearer
from tests.ui.conftest import shot, sign_in, token_for

ROWS = 150
BAD_EVERY = 25  # rows 0, 25, 50, ... carry an email that is not one


def sample_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Given", "Family", "Mobile", "E-mail", "Org", "Remark"])
    for i in range(ROWS):
        email = "not-an-email" if i % BAD_EVERY == 0 else f"row{i}@example.com"
        writer.writerow(
            [f"Imp{i:03d}", "Ortmann", f"+1415557{i:04d}", email, "Umbrella", f"remark {i}"]
        )
    return out.getvalue().encode("utf-8")


def test_preview_edit_mapping_import_with_progress_and_download_failed_rows(
    page, client, workspace, worker, watch, tmp_path
):
    data = sample_csv()
    assert len(data) > 4096  # larger than the test server's sync limit: a background job
    path = tmp_path / "people.csv"
    path.write_bytes(data)

    sign_in(page, token_for(workspace))
    page.click("nav >> text=Import")
    page.set_input_files("#import-file", str(path))
    page.wait_for_selector("#import-mapping")
    assert "utf-8" in page.text_content("#import-format").lower()
    assert '";"' in page.text_content("#import-format")
    assert page.text_content("#import-counts td[data-count=total]") == str(ROWS)
    assert page.text_content("#import-counts td[data-count=invalid]") == str(ROWS // BAD_EVERY)
    assert page.locator("#import-errors tr").count() > 1  # the first errors, with their lines

    # Edit the mapping of every column; the preview runs again with it.
    for column, target in {
        "Given": "firstName",
        "Family": "lastName",
        "Mobile": "phone",
        "E-mail": "email",
        "Org": "company",
        "Remark": "notes",
    }.items():
        selector = f'#import-mapping select[data-column="{column}"]'
        if page.input_value(selector) != target:
            page.select_option(selector, target)
            page.wait_for_function(
                "([s, t]) => document.querySelector(s) && document.querySelector(s).value === t",
                arg=[selector, target],
            )
    page.wait_for_selector("#import-run")
    shot(page, "import-preview")
    assert (
        client.get(f"/v1/contacts?workspaceId={workspace}", headers=bearer(workspace)).json["meta"][
            "total"
        ]
        == 0
    )  # a dry run writes nothing

    page.click("#import-run")
    page.wait_for_selector("#import-progress")
    page.wait_for_selector("#import-done", timeout=90_000)
    assert page.get_attribute("#import-progress", "value") == "100"
    created = ROWS - ROWS // BAD_EVERY
    assert page.text_content("#import-outcome td[data-count=created]") == str(created)
    shot(page, "import-done")

    with page.expect_download() as download_info:
        page.click("#import-errors-csv")
    failed = open(download_info.value.path(), encoding="utf-8-sig").read()
    assert failed.count("not-an-email") == ROWS // BAD_EVERY

    found = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "Imp001 Ortmann"},
        headers=bearer(workspace),
    ).json["data"]
    assert found[0]["notes"] == "remark 1" and found[0]["company"] == "Umbrella"
    assert watch.blocked == []


def test_default_country_reads_national_numbers(page, client, workspace, worker, watch, tmp_path):
    path = tmp_path / "uk.csv"
    path.write_text("First,Last,Phone\nOlive,Hartley,020 7946 0018\nPip,Hartley,020 7946 0019\n")
    sign_in(page, token_for(workspace))
    page.click("nav >> text=Import")
    page.set_input_files("#import-file", str(path))
    page.wait_for_selector("#import-mapping")
    # Read as the server's default country (US), the London numbers are not numbers.
    assert page.text_content("#import-counts td[data-count=invalid]") == "2"

    page.fill("#import-country", "gb")
    page.press("#import-country", "Tab")  # change: the preview runs again with it
    page.wait_for_function(
        "() => document.querySelector('#import-counts td[data-count=invalid]')?.textContent === '0'"
    )
    shot(page, "import-country")
    page.click("#import-run")
    page.wait_for_selector("#import-done", timeout=30_000)
    assert page.text_content("#import-outcome td[data-count=created]") == "2"
    found = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "Olive Hartley"},
        headers=bearer(workspace),
    ).json["data"]
    assert found[0]["phone"] == "+442079460018"
    assert watch.blocked == []
