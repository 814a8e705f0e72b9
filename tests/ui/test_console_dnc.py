"""The DNC screen in the browser: add with a reason, filter, remove, history, bulk check."""

from __future__ import annotations

from tests.conftest import bearer
from tests.ui.conftest import shot, sign_in, token_for


def rows(page) -> list[str]:
    return page.eval_on_selector_all("#dnc-rows tr", "els => els.map(e => e.dataset.phone)")


def test_add_filter_remove_history_and_bulk_check(page, client, workspace, watch):
    sign_in(page, token_for(workspace))
    page.click("nav >> text=Do-Not-Call")
    for phone, reason in (("(415) 555-0101", "asked on call"), ("+1 415 555 0102", "complaint")):
        page.fill("#dnc-phone", phone)
        page.fill("#dnc-reason", reason)
        page.click("#dnc-add button[type=submit]")
        page.wait_for_function(
            "n => document.querySelectorAll('#dnc-rows tr').length === n",
            arg=1 if reason == "asked on call" else 2,
        )
    assert sorted(rows(page)) == ["+14155550101", "+14155550102"]

    page.fill("#dnc-filter-reason", "complaint")
    page.click("#dnc-filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#dnc-rows tr').length === 1")
    assert rows(page) == ["+14155550102"]
    page.fill("#dnc-filter-reason", "")
    page.click("#dnc-filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#dnc-rows tr').length === 2")

    page.fill("#dnc-check-input", "415-555-0101\n+14155550199\nnot a phone\n")
    page.click("#dnc-check button[type=submit]")
    page.wait_for_selector("#dnc-check-table")
    answers = page.eval_on_selector_all(
        "#dnc-check-table tr[data-dnc]", "els => els.map(e => e.dataset.dnc)"
    )
    assert answers == ["true", "false", "null"]
    shot(page, "dnc")

    page.click('button[aria-label="Remove +14155550101"]')
    page.wait_for_function("() => document.querySelectorAll('#dnc-rows tr').length === 1")
    assert rows(page) == ["+14155550102"]
    page.wait_for_function(
        "() => [...document.querySelectorAll('#dnc-history tr')]"
        ".some(r => r.textContent.includes('removed'))"
    )
    history = page.text_content("#dnc-history")
    assert history.count("added") == 2 and "removed" in history
    check = client.post(
        "/v1/dnc/check",
        json={"workspaceId": workspace, "phones": ["+14155550101", "+14155550102"]},
        headers=bearer(workspace),
    ).json["data"]
    assert [c["dnc"] for c in check] == [False, True]
    assert watch.blocked == []


def test_import_a_csv_shows_counts_and_the_first_errors(page, client, workspace, watch, tmp_path):
    listed = client.post(
        "/v1/dnc",
        json={"workspaceId": workspace, "phone": "+14155550301", "reason": "old"},
        headers=bearer(workspace),
    )
    assert listed.status_code in (200, 201), listed.json
    path = tmp_path / "optouts.csv"
    path.write_text(
        "Name,Cell\nAda,+14155550301\nBob,(415) 555-0302\nCy,not a phone\nDee,\nEve,415 555 0303\n"
    )
    sign_in(page, token_for(workspace))
    page.click("nav >> text=Do-Not-Call")
    page.set_input_files("#dnc-import-file", str(path))
    page.fill("#dnc-import-reason", "opt-out list")
    page.fill("#dnc-import-column", "Cell")
    page.click("#dnc-import button[type=submit]")
    page.wait_for_selector("#dnc-import-counts")
    counts = {
        name: page.text_content(f"#dnc-import-counts td[data-count={name}]")
        for name in ("added", "updated", "invalid")
    }
    assert counts == {"added": "2", "updated": "1", "invalid": "2"}
    errors = page.eval_on_selector_all(
        "#dnc-import-errors tr",
        "rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent))",
    )
    assert errors == [
        ["4", "not a phone", "Not a valid phone number."],
        ["5", "", "No phone number."],
    ]
    shot(page, "dnc-import")
    check = client.post(
        "/v1/dnc/check",
        json={"workspaceId": workspace, "phones": ["+14155550302", "+14155550303"]},
        headers=bearer(workspace),
    ).json["data"]
    assert [(c["dnc"], c["reason"]) for c in check] == [(True, "opt-out list")] * 2

    # A column that is not in the file is the API's error, shown as such.
    page.set_input_files("#dnc-import-file", str(path))
    page.fill("#dnc-import-column", "Phone Number")
    page.click("#dnc-import button[type=submit]")
    page.wait_for_selector("#dnc-import-result .error")
    assert "phoneColumn" in page.text_content("#dnc-import-result .error")
    assert watch.blocked == []
