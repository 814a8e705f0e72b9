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
