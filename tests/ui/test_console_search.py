"""Search as you type in a real browser: the list after each keystroke is the API's answer
for that prefix; highlights, the DNC badge, filters (dates too), sort, infinite scroll,
keyboard, export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from app import services
from tests.conftest import bearer
from tests.ui.conftest import shot, sign_in, token_for

PAGE = 25  # the console's page size


def create(client, workspace, wait: bool = True, **fields) -> dict:
    """Create a contact; `wait=False` skips waiting for search (the last create waits)."""
    response = client.post(
        "/v1/contacts" + ("?refresh=wait_for" if wait else ""),
        json={"workspaceId": workspace, **fields},
        headers=bearer(workspace),
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def api_ids(client, workspace, query, **body) -> list[str]:
    response = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": query, "limit": PAGE, **body},
        headers=bearer(workspace),
    )
    assert response.status_code == 200, response.json
    return [hit["id"] for hit in response.json["data"]]


def shown_ids(page) -> list[str]:
    return page.eval_on_selector_all("#results li.hit", "els => els.map(e => e.dataset.id)")


def wait_rendered(page, query: str) -> None:
    page.wait_for_function(
        "q => { const l = document.getElementById('results');"
        " return l && l.dataset.state === 'ready' && l.dataset.query === q; }",
        arg=query,
    )


def test_typing_a_name_letter_by_letter_shows_the_apis_answer_after_every_keystroke(
    page, client, workspace, watch
):
    names = [
        ("Mario", "Rossi"),
        ("Marisol", "Vega"),
        ("Marina", "Kowalski"),
        ("Mark", "Twain"),
        ("Martha", "Stewart"),
        ("Mary", "Shelley"),
        ("Maria", "Garcia"),
        ("Marius", "Pop"),
        ("Max", "Planck"),
        ("Ada", "Lovelace"),
        ("Grace", "Hopper"),
        ("Marisa", "Tomei"),
    ]
    for i, (first, last) in enumerate(names):
        create(
            client,
            workspace,
            i == len(names) - 1,
            firstName=first,
            lastName=last,
            company=f"Co {i}",
            phone=f"+1415555{1000 + i}",
            email=f"{first.lower()}.{last.lower()}@example.com",
        )
    sign_in(page, token_for(workspace))
    wait_rendered(page, "")
    assert sorted(shown_ids(page)) == sorted(api_ids(client, workspace, ""))

    typed = ""
    for letter in "Marisol":
        page.press("#search", letter)
        typed += letter
        wait_rendered(page, typed)
        assert shown_ids(page) == api_ids(client, workspace, typed), typed
    # The marks are the API's character spans, field by field.
    marks = page.eval_on_selector_all("#results li.hit mark", "els => els.map(e => e.textContent)")
    hits = client.post(
        "/v1/contacts/search",
        headers=bearer(workspace),
        json={"workspaceId": workspace, "query": typed, "limit": PAGE},
    ).json["data"]
    order = ("firstName", "lastName", "company", "email", "phone")
    expected_marks = [
        hl["value"][span["start"] : span["end"]]
        for hit in hits
        for hl in sorted(hit["highlights"], key=lambda hl: order.index(hl["field"]))
        for span in hl["spans"]
    ]
    assert marks[0] == "Marisol" and marks == expected_marks
    shot(page, "search")

    # Backspace is a keystroke too.
    page.press("#search", "Backspace")
    wait_rendered(page, "Mariso")
    assert shown_ids(page) == api_ids(client, workspace, "Mariso")
    assert watch.blocked == [] and watch.errors == []


def test_filters_dnc_badge_sort_infinite_scroll_keyboard_and_export(page, client, workspace, watch):
    for i in range(60):
        create(
            client,
            workspace,
            False,
            firstName=f"Person{i:02d}",
            lastName="Scroll",
            company="Acme" if i % 3 == 0 else "Globex",
            tags=["vip"] if i % 5 == 0 else ["lead"],
            phone=f"+1415556{1000 + i}",
            email=None if i % 4 == 0 else f"p{i}@example.com",
        )
    listed = create(
        client,
        workspace,
        firstName="Dana",
        lastName="Blocked",
        phone="+14155557777",
        company="Acme",
    )
    assert (
        client.post(
            "/v1/dnc?refresh=wait_for",
            headers=bearer(workspace),
            json={"workspaceId": workspace, "phone": "+14155557777", "reason": "asked"},
        ).status_code
        == 201
    )

    sign_in(page, token_for(workspace))
    wait_rendered(page, "")
    assert page.text_content("#result-count").startswith("61 contacts")
    # Infinite scroll on the cursor: 25, 50, then all 61.
    assert len(shown_ids(page)) == PAGE
    for expected in (50, 61):
        page.locator("#more").scroll_into_view_if_needed()
        page.wait_for_function(
            "n => document.querySelectorAll('#results li.hit').length === n", arg=expected
        )
    assert len(set(shown_ids(page))) == 61

    # The DNC badge and the DNC filter.
    page.select_option("select[name=dnc]", "true")
    page.wait_for_function("() => document.querySelectorAll('#results li.hit').length === 1")
    assert shown_ids(page) == [listed["id"]]
    assert page.text_content("#results li.hit .badge") == "DNC"
    page.select_option("select[name=dnc]", "")

    # Company and tags filters, has email, sort: the same ids as the API gives.
    page.fill("input[name=company]", "Acme")
    page.fill("input[name=tags]", "vip")
    page.select_option("select[name=hasEmail]", "true")
    page.select_option("select[name=sort]", "firstName")
    filters = {"company": "Acme", "tags": {"any": ["vip"]}, "hasEmail": True}
    expected = api_ids(client, workspace, "", filters=filters, sort="firstName")
    page.wait_for_function(
        "n => document.querySelectorAll('#results li.hit').length === n"
        " && document.getElementById('results').dataset.state === 'ready'",
        arg=len(expected),
    )
    assert expected and shown_ids(page) == expected
    shot(page, "search-filters")

    # Export with the current filters: the file holds exactly those contacts.
    with page.expect_download() as download_info:
        page.click("#export")
    rows = list(
        csv.DictReader(io.StringIO(open(download_info.value.path(), encoding="utf-8-sig").read()))
    )
    assert sorted(r["id"] for r in rows) == sorted(expected)

    # Keyboard: "/" focuses the box, arrows move, Enter opens the selected contact.
    page.click("h1, .count")  # focus away from the box
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#contact-name")
    assert page.evaluate("location.hash") == f"#/contacts/{expected[1]}"
    assert watch.blocked == [] and watch.errors == []


def backdate(app, workspace, contact_id, **stamps) -> None:
    """Move a stored contact's createdAt/updatedAt into the past (the API never does)."""
    with app.app_context():
        contacts = services.contacts()
        contacts.client.update(
            index=contacts.names.write,
            id=contact_id,
            routing=workspace,
            body={"doc": stamps},
            refresh=True,
        )


def wait_ids(page, ids: list[str]) -> None:
    page.wait_for_function(
        "ids => { const l = document.getElementById('results');"
        " const shown = [...l.querySelectorAll('li.hit')].map(e => e.dataset.id).sort();"
        " return l.dataset.state === 'ready' && JSON.stringify(shown) === JSON.stringify(ids); }",
        arg=sorted(ids),
    )


def test_created_and_updated_date_filters(page, app, client, workspace, watch):
    ann = create(client, workspace, wait=False, firstName="Ann", lastName="Dated")
    bob = create(client, workspace, wait=False, firstName="Bob", lastName="Dated")
    cid = create(client, workspace, firstName="Cid", lastName="Dated")
    backdate(
        app,
        workspace,
        ann["id"],
        createdAt="2024-03-10T12:00:00.000Z",
        updatedAt="2024-03-10T12:00:00.000Z",
    )
    backdate(app, workspace, bob["id"], createdAt="2024-06-01T00:00:00.000Z")
    today = datetime.now(UTC).date().isoformat()

    sign_in(page, token_for(workspace))
    wait_ids(page, [ann["id"], bob["id"], cid["id"]])
    with page.expect_request(lambda r: r.url.endswith("/v1/contacts/search")) as sent:
        page.fill("#filter-createdFrom", "2024-06-01")
    assert sent.value.post_data_json["filters"] == {"createdAt": {"gte": "2024-06-01T00:00:00Z"}}
    wait_ids(page, [bob["id"], cid["id"]])  # from a day: that day's midnight included
    assert sorted(shown_ids(page)) == sorted(
        api_ids(client, workspace, "", filters={"createdAt": {"gte": "2024-06-01T00:00:00Z"}})
    )
    page.fill("#filter-createdFrom", "")
    page.fill("#filter-createdBefore", "2024-06-01")
    wait_ids(page, [ann["id"]])  # before a day: that day excluded
    shot(page, "search-dates")

    # Export with the date range: the file holds the same contacts.
    with page.expect_download() as download_info:
        page.click("#export")
    rows = list(
        csv.DictReader(io.StringIO(open(download_info.value.path(), encoding="utf-8-sig").read()))
    )
    assert [r["id"] for r in rows] == [ann["id"]]

    page.fill("#filter-createdBefore", "")
    page.fill("#filter-updatedFrom", today)
    wait_ids(page, [bob["id"], cid["id"]])
    page.fill("#filter-updatedFrom", "")
    page.fill("#filter-updatedBefore", today)
    wait_ids(page, [ann["id"]])
    assert watch.blocked == [] and watch.errors == []


def test_a_search_by_a_secondary_numbers_last_digits_shows_that_number_highlighted(
    page, client, workspace, watch
):
    caller = create(
        client,
        workspace,
        False,
        firstName="Nadia",
        lastName="Okafor",
        phones=[
            {"number": "+12125550143", "type": "work", "primary": True},
            {"number": "+14155559321", "type": "mobile"},
            {"number": "+442079460777", "type": "home"},
        ],
        emails=[
            {"address": "nadia@okafor.example", "primary": True},
            {"address": "n.private@mail.example", "type": "home"},
        ],
    )
    create(client, workspace, firstName="Other", phone="+12125550999")
    sign_in(page, token_for(workspace))
    wait_rendered(page, "")

    page.fill("#search", "9321")
    wait_rendered(page, "9321")
    assert shown_ids(page) == [caller["id"]] == api_ids(client, workspace, "9321")
    row = "#results li.hit .phone"
    # The primary first, then the number that matched, marked with its type, the digits
    # highlighted; the one left over stays behind "+1 more".
    assert page.text_content(f"{row}") == "+12125550143mobile+14155559321 +1 more"
    assert page.text_content(f"{row} .matched-other .matched-type") == "mobile"
    assert page.get_attribute(f"{row} .matched-other", "data-index") == "1"
    marks = page.eval_on_selector_all(f"{row} mark", "els => els.map(e => e.textContent)")
    assert marks == ["9321"]
    assert page.get_attribute(f"{row} .more-count", "title") == "+442079460777"
    shot(page, "search-secondary-number")

    # A secondary address by its local part: that address, its prefix highlighted.
    page.fill("#search", "privat")
    wait_rendered(page, "privat")
    assert shown_ids(page) == [caller["id"]]
    row = "#results li.hit .email"
    assert page.text_content(f"{row} .matched-other") == "homen.private@mail.example"
    marks = page.eval_on_selector_all(f"{row} mark", "els => els.map(e => e.textContent)")
    assert marks == ["privat"]
    assert page.locator(f"{row} .more-count").count() == 0

    # The primary matched: the row is as before, the others behind "+N more".
    page.fill("#search", "0143")
    wait_rendered(page, "0143")
    assert page.text_content("#results li.hit .phone") == "+12125550143 +2 more"
    assert page.locator("#results li.hit .matched-other").count() == 0
    assert watch.blocked == [] and watch.errors == []
