"""Every phone and email of a contact in the browser: the detail lists each number (E.164,
national format, type, primary, its own Do-Not-Call state) and each address; search rows
say "+N more"; an edit never drops a number or an address it did not touch."""

from __future__ import annotations

from tests.conftest import bearer
from tests.ui.conftest import shot, sign_in, token_for

THREE_PHONES = [
    {"number": "(415) 555-2671", "type": "mobile"},
    {"number": "+1 212 555 0100", "type": "work", "primary": True},
    {"number": "+44 20 7946 0958", "type": "home"},
]
TWO_EMAILS = [
    {"address": "jane@acme.com", "type": "work", "primary": True},
    {"address": "jane.doe@example.org", "type": "home"},
]


def create(client, workspace, **fields) -> dict:
    response = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, **fields},
        headers=bearer(workspace),
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def stored(client, workspace, contact_id) -> dict:
    return client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).json["data"]


def methods(contact) -> tuple[list, list]:
    phones = [(p["number"], p["type"], p["primary"]) for p in contact["phones"]]
    emails = [(e["address"], e["type"], e["primary"]) for e in contact["emails"]]
    return phones, emails


def row_with(page, kind: str, value: str):
    """The editor row whose input holds `value` (kind: "phone" or "email")."""
    rows = page.locator(f"#{kind}-rows .method-row")
    for index in range(rows.count()):
        if rows.nth(index).locator(".method-value").input_value() == value:
            return rows.nth(index)
    raise AssertionError(f"no {kind} row holds {value!r}")


def open_contact(page, contact_id) -> None:
    page.evaluate(f"location.hash = '#/contacts/{contact_id}'")
    page.wait_for_selector("#contact-name")


def test_secondary_numbers_and_addresses_survive_an_edit_of_other_fields(
    page, client, workspace, watch
):
    contact = create(
        client, workspace, firstName="Jane", lastName="Doe", phones=THREE_PHONES, emails=TWO_EMAILS
    )
    before = methods(contact)
    sign_in(page, token_for(workspace))
    open_contact(page, contact["id"])
    page.click("#edit")
    page.fill("#f-firstName", "Janet")
    page.fill("#f-notes", "Prefers mornings")
    page.click("#save")
    page.wait_for_selector("#contact-name >> text=Janet")
    after = stored(client, workspace, contact["id"])
    assert after["firstName"] == "Janet" and after["notes"] == "Prefers mornings"
    assert methods(after) == before
    assert watch.blocked == [] and watch.errors == []


def test_the_detail_lists_every_number_with_its_own_dnc_state_and_every_address(
    page, client, workspace, watch
):
    contact = create(
        client, workspace, firstName="Jane", lastName="Doe", phones=THREE_PHONES, emails=TWO_EMAILS
    )
    listed = client.post(
        "/v1/dnc",
        json={"workspaceId": workspace, "phone": "415-555-2671", "reason": "asked"},
        headers=bearer(workspace),
    )
    assert listed.status_code in (200, 201), listed.json
    sign_in(page, token_for(workspace))
    open_contact(page, contact["id"])
    page.wait_for_function(
        "() => [...document.querySelectorAll('#phones td.national')].every(c => c.textContent)"
    )
    rows = page.eval_on_selector_all(
        "#phones tr",
        """els => els.map(e => [e.dataset.value, e.querySelector('.national').textContent,
            e.querySelector('.type').textContent, e.querySelector('.primary').textContent,
            e.dataset.dnc, e.querySelector('.dnc').textContent])""",
    )
    assert rows == [
        ["+12125550100", "(212) 555-0100", "work", "primary", "false", "not on DNC list"],
        ["+14155552671", "(415) 555-2671", "mobile", "", "true", "Do not call"],
        ["+442079460958", "020 7946 0958", "home", "", "false", "not on DNC list"],
    ]
    emails = page.eval_on_selector_all(
        "#emails tr",
        "els => els.map(e => [e.dataset.value, e.querySelector('.type').textContent,"
        " e.querySelector('.primary').textContent])",
    )
    assert emails == [
        ["jane@acme.com", "work", "primary"],
        ["jane.doe@example.org", "home", ""],
    ]
    # The contact is listed because one of its numbers is, not only when the primary is.
    assert page.text_content("#contact-dnc") == "DNC: 1 of 3 numbers listed"
    shot(page, "contact-methods")
    # The form says which number is listed too, where the primary is chosen.
    page.click("#edit")
    marked = page.eval_on_selector_all(
        "#phone-rows .method-row", "els => els.map(e => e.querySelector('.badge.dnc') !== null)"
    )
    assert marked == [False, True, False]
    shot(page, "contact-methods-form")
    # Typed over, the row is another number: the list's answer was about the old one.
    listed_row = row_with(page, "phone", "+14155552671")
    listed_row.locator(".method-value").fill("+1 415 555 2672")
    assert not listed_row.locator(".badge.dnc").is_visible()
    page.click("text=Cancel")

    page.click("nav >> text=Search")
    page.fill("#search", "jane")
    page.wait_for_function(
        "() => document.getElementById('results').dataset.query === 'jane'"
        " && document.querySelectorAll('#results li.hit').length === 1"
    )
    assert page.text_content("#results .hit .phone") == "+12125550100 +2 more"
    assert page.text_content("#results .hit .email") == "jane@acme.com +1 more"
    assert page.get_attribute("#results .hit .phone .more-count", "title") == (
        "+14155552671, +442079460958"
    )
    shot(page, "search-more-numbers")
    assert watch.blocked == [] and watch.errors == []


def test_the_form_adds_and_removes_numbers_and_addresses_and_chooses_the_primary(
    page, client, workspace, watch
):
    contact = create(
        client, workspace, firstName="Jane", lastName="Doe", phones=THREE_PHONES, emails=TWO_EMAILS
    )
    sign_in(page, token_for(workspace))
    open_contact(page, contact["id"])
    page.click("#edit")
    assert "null" not in page.text_content("section.contact")  # no missing note drawn as text
    assert page.locator("#phone-rows .method-row").count() == 3
    assert page.locator("#email-rows .method-row").count() == 2
    row_with(page, "phone", "+442079460958").locator(".method-remove").click()
    page.click("#phone-add")
    added = page.locator("#phone-rows .method-row").last
    added.locator(".method-value").fill("(650) 555-0199")
    added.locator(".method-type").select_option("mobile")
    added.locator(".method-primary").check()
    added.locator(".phone-info .e164").wait_for()  # live normalization of the new row
    row_with(page, "email", "jane.doe@example.org").locator(".method-remove").click()
    page.click("#email-add")
    page.locator("#email-rows .method-row").last.locator(".method-value").fill("New@Acme.com")
    shot(page, "contact-methods-edit")
    with page.expect_request(lambda r: r.method == "PATCH") as sent:
        page.click("#save")
    # Whole lists, and never the scalar phone/email beside them.
    assert sent.value.post_data_json == {
        "phones": [
            {"number": "+12125550100", "type": "work", "primary": False},
            {"number": "+14155552671", "type": "mobile", "primary": False},
            {"number": "(650) 555-0199", "type": "mobile", "primary": True},
        ],
        "emails": [
            {"address": "jane@acme.com", "type": "work", "primary": True},
            {"address": "New@Acme.com", "type": "other", "primary": False},
        ],
    }
    page.wait_for_selector("#phones tr[data-value='+16505550199']")
    after = stored(client, workspace, contact["id"])
    assert methods(after) == (
        [
            ("+16505550199", "mobile", True),
            ("+12125550100", "work", False),
            ("+14155552671", "mobile", False),
        ],
        [("jane@acme.com", "work", True), ("new@acme.com", "other", False)],
    )
    assert after["phone"] == "+16505550199"
    shown = page.eval_on_selector_all("#phones tr", "els => els.map(e => e.dataset.value)")
    assert shown == ["+16505550199", "+12125550100", "+14155552671"]

    # Removing the primary row makes the next row primary, as the API would.
    page.click("#edit")
    row_with(page, "phone", "+16505550199").locator(".method-remove").click()
    assert row_with(page, "phone", "+12125550100").locator(".method-primary").is_checked()
    page.click("#save")
    page.wait_for_function("() => document.querySelectorAll('#phones tr').length === 2")
    assert stored(client, workspace, contact["id"])["phone"] == "+12125550100"
    assert watch.blocked == [] and watch.errors == []


def test_a_bad_row_shows_the_api_error_beside_the_form_and_writes_nothing(
    page, client, workspace, watch
):
    contact = create(
        client, workspace, firstName="Jane", lastName="Doe", phones=THREE_PHONES, emails=TWO_EMAILS
    )
    before = stored(client, workspace, contact["id"])
    sign_in(page, token_for(workspace))
    open_contact(page, contact["id"])
    page.click("#edit")
    page.click("#phone-add")
    page.locator("#phone-rows .method-row").last.locator(".method-value").fill("12")
    row_with(page, "phone", "+14155552671").locator(".method-primary").check()
    with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        page.click("#save")
    assert answer.value.status == 400
    page.wait_for_selector("#form-errors li")
    errors = page.text_content("#form-errors")
    assert "phones.3.number" in errors and "Not a valid phone number" in errors
    # The row the API named is marked, and only that one.
    marked = page.eval_on_selector_all(
        "#phone-rows .method-row.invalid", "els => els.map(e => e.querySelector('input').value)"
    )
    assert marked == ["12"]
    shot(page, "contact-methods-error")
    assert stored(client, workspace, contact["id"]) == before
    # The form stays usable: fix the row and save.
    page.locator("#phone-rows .method-row.invalid .method-value").fill("+1 650 555 0142")
    page.click("#save")
    page.wait_for_selector("#phones tr[data-value='+16505550142']")
    assert stored(client, workspace, contact["id"])["phone"] == "+14155552671"
    assert watch.blocked == []


def test_a_number_added_by_someone_else_survives_the_reapply_after_a_conflict(
    page, client, workspace, watch
):
    contact = create(
        client, workspace, firstName="Jane", lastName="Doe", phones=THREE_PHONES, emails=TWO_EMAILS
    )
    sign_in(page, token_for(workspace))
    open_contact(page, contact["id"])
    page.click("#edit")
    page.click("#phone-add")
    page.locator("#phone-rows .method-row").last.locator(".method-value").fill("+1 650 555 0101")
    row_with(page, "phone", "+442079460958").locator(".method-remove").click()
    # Meanwhile someone else adds a number and changes the primary email.
    theirs = client.patch(
        f"/v1/contacts/{contact['id']}",
        json={
            "phones": [*THREE_PHONES, {"number": "+1 303 555 0177", "type": "work"}],
            "email": "jane.doe@example.org",
        },
        headers=bearer(workspace),
    )
    assert theirs.status_code == 200
    page.click("#save")
    page.wait_for_selector("#reapply")
    page.click("#reapply")
    page.wait_for_selector("#reapplied")
    values = page.eval_on_selector_all("#phone-rows .method-value", "els => els.map(e => e.value)")
    assert values == ["+12125550100", "+14155552671", "+13035550177", "+1 650 555 0101"]
    page.click("#save")
    page.wait_for_selector("#phones tr[data-value='+16505550101']")
    after = stored(client, workspace, contact["id"])
    assert [p["number"] for p in after["phones"]] == [
        "+12125550100",
        "+14155552671",
        "+13035550177",
        "+16505550101",
    ]
    assert after["email"] == "jane.doe@example.org"  # theirs: the emails were not mine to send
    assert watch.blocked == []


def test_hostile_addresses_and_names_stay_text_and_the_page_stays_usable(
    page, client, workspace, watch
):
    markup = '"<img/src=x/onerror=alert(1)>"@example.com'
    script = '"<script>window.__pwned=1</script>"@example.com'
    long_address = "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "com"  # 251 characters
    rtl = "\u202eשלום@example.com"[1:]  # Hebrew, right to left
    accented = "josé@exämple.com"
    emails = [markup, script, long_address, rtl, accented]
    # The most numbers a contact can hold, every fourth one listed.
    numbers = [f"+1415555{index:04d}" for index in range(100, 120)]
    contact = create(
        client,
        workspace,
        firstName="\u202eשלום <img src=x onerror=alert(2)>",
        lastName="Ω" * 200,
        phones=[{"number": n, "type": "mobile"} for n in numbers],
        emails=[{"address": a} for a in emails],
    )
    for number in numbers[::4]:
        listed = client.post(
            "/v1/dnc",
            json={"workspaceId": workspace, "phone": number, "reason": "<b>asked</b>"},
            headers=bearer(workspace),
        )
        assert listed.status_code in (200, 201), listed.json
    sign_in(page, token_for(workspace))
    open_contact(page, contact["id"])
    page.wait_for_selector("#emails tr")
    shown = page.eval_on_selector_all("#emails td.value", "els => els.map(e => e.textContent)")
    assert shown == emails
    dnc = page.eval_on_selector_all("#phones tr", "els => els.map(e => e.dataset.dnc)")
    assert dnc == ["true" if index % 4 == 0 else "false" for index in range(20)]
    assert page.text_content("#contact-dnc") == "DNC: 5 of 20 numbers listed"
    shot(page, "contact-methods-hostile")
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert page.locator("main img, main script, main b").count() == 0
    assert page.evaluate("window.__pwned") is None and watch.dialogs == []
    # Nothing pushes the page sideways: the long address wraps inside its cell.
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # Still usable: the form holds every value as typed, and saving a note leaves them be.
    page.click("#edit")
    values = page.eval_on_selector_all("#email-rows .method-value", "els => els.map(e => e.value)")
    assert values == emails
    assert page.locator("#phone-rows .method-row").count() == 20
    page.fill("#f-notes", "<svg onload=alert(3)>")
    with page.expect_request(lambda r: r.method == "PATCH") as sent:
        page.click("#save")
    assert sent.value.post_data_json == {"notes": "<svg onload=alert(3)>"}
    page.wait_for_selector("dd[data-field=notes]")
    after = stored(client, workspace, contact["id"])
    assert [e["address"] for e in after["emails"]] == emails
    assert [p["number"] for p in after["phones"]] == numbers

    page.click("nav >> text=Search")
    page.fill("#search", "example")
    page.wait_for_function(
        "() => document.getElementById('results').dataset.query === 'example'"
        " && document.querySelectorAll('#results li.hit').length === 1"
    )
    assert page.text_content("#results .hit .phone .more-count") == " +19 more"
    assert page.text_content("#results .hit .email") == f"{markup} +4 more"
    shot(page, "search-hostile-methods")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    page.wait_for_timeout(300)
    assert page.locator("main img, main script, main svg, main b").count() == 0
    assert page.evaluate("window.__pwned") is None and watch.dialogs == []
    assert watch.blocked == [] and watch.errors == []


def test_a_new_contact_is_created_with_several_numbers_and_a_chosen_primary(
    page, client, workspace, watch
):
    sign_in(page, token_for(workspace))
    page.click("nav >> text=New contact")
    page.fill("#f-firstName", "Nora")
    page.locator("#phone-rows .method-value").fill("(415) 555-0140")
    page.click("#phone-add")
    second = page.locator("#phone-rows .method-row").last
    second.locator(".method-value").fill("+1 212 555 0141")
    second.locator(".method-type").select_option("work")
    second.locator(".method-primary").check()
    page.click("#phone-add")  # left blank: not sent
    page.locator("#email-rows .method-value").fill("nora@acme.com")
    with page.expect_request(lambda r: r.method == "POST" and "/v1/contacts?" in r.url) as sent:
        page.click("#save")
    body = sent.value.post_data_json
    assert "phone" not in body and "email" not in body
    assert body["phones"] == [
        {"number": "(415) 555-0140", "type": "other", "primary": False},
        {"number": "+1 212 555 0141", "type": "work", "primary": True},
    ]
    page.wait_for_selector("#phones tr")
    contact_id = page.evaluate("location.hash").removeprefix("#/contacts/")
    assert methods(stored(client, workspace, contact_id)) == (
        [("+12125550141", "work", True), ("+14155550140", "other", False)],
        [("nora@acme.com", "other", True)],
    )
    assert watch.blocked == [] and watch.errors == []


def test_a_number_whose_dnc_state_is_unknown_reads_do_not_call(page, client, workspace, watch):
    contact = create(client, workspace, firstName="Una", lastName="Known", phones=THREE_PHONES)
    sign_in(page, token_for(workspace))

    # The API answers `dnc: null` when neither Redis nor OpenSearch can read the list; the
    # servers are shared here, so the real answer is altered on its way to the page.
    def unreadable(route) -> None:
        answer = route.fetch()
        data = answer.json()
        data["data"]["dnc"] = None
        for phone in data["data"]["phones"]:
            phone["dnc"] = None
        route.fulfill(response=answer, json=data)

    page.route(f"**/v1/contacts/{contact['id']}", unreadable)
    open_contact(page, contact["id"])
    page.wait_for_selector("#phones tr")
    cells = page.eval_on_selector_all("#phones td.dnc", "els => els.map(e => e.textContent)")
    assert cells == ["DNC unknown: do not call"] * 3
    assert page.text_content("#contact-dnc") == "DNC list unreadable: do not call"
    assert watch.blocked == []


def n(number: str, type_: str = "other", primary: bool = False) -> dict:
    return {"number": number, "type": type_, "primary": primary}


# (base, mine, theirs, expected): what the form had, what I made of it, what is stored now.
REBASE_CASES = [
    # I removed C and added D; they added E: E stays, C goes, D comes.
    (
        [n("A", primary=True), n("B"), n("C")],
        [n("A", primary=True), n("B"), n("D")],
        [n("A", primary=True), n("B"), n("C"), n("E")],
        [n("A", primary=True), n("B"), n("E"), n("D")],
    ),
    # I retyped B; they did not touch it.
    (
        [n("A", primary=True), n("B")],
        [n("A", primary=True), n("B", "home")],
        [n("A", primary=True), n("B")],
        [n("A", primary=True), n("B", "home")],
    ),
    # They removed B, which I did not touch: it stays removed.
    (
        [n("A", primary=True), n("B")],
        [n("A", primary=True), n("B")],
        [n("A", primary=True)],
        [n("A", primary=True)],
    ),
    # I removed B, which they retyped: my removal wins.
    (
        [n("A", primary=True), n("B")],
        [n("A", primary=True)],
        [n("A", primary=True), n("B", "work")],
        [n("A", primary=True)],
    ),
    # I made C primary: it is, whatever they did to the others.
    (
        [n("A", primary=True), n("C")],
        [n("A"), n("C", primary=True)],
        [n("A", primary=True), n("C"), n("F")],
        [n("A"), n("C", primary=True), n("F")],
    ),
    # I made C primary but they removed C: their primary stays.
    (
        [n("A", primary=True), n("C")],
        [n("A"), n("C", primary=True)],
        [n("A", primary=True)],
        [n("A", primary=True)],
    ),
    # They changed the primary and I did not: theirs stays.
    (
        [n("A", primary=True), n("B")],
        [n("A", primary=True), n("B"), n("G")],
        [n("A"), n("B", primary=True)],
        [n("A"), n("B", primary=True), n("G")],
    ),
    # We both added D: once.
    (
        [n("A", primary=True)],
        [n("A", primary=True), n("D")],
        [n("A", primary=True), n("D", "work")],
        [n("A", primary=True), n("D", "work")],
    ),
    # I removed the primary; the list has none flagged (the form and the API take the first).
    ([n("A", primary=True), n("B")], [n("B")], [n("A", primary=True), n("B")], [n("B")]),
]


def test_reapplying_list_edits_keeps_what_the_other_writer_did_that_mine_did_not_touch(
    page, workspace
):
    sign_in(page, token_for(workspace))
    results = page.evaluate(
        """async (cases) => {
            const m = await import('/console/static/js/methods.js');
            return cases.map(([base, mine, theirs]) => m.rebase(m.PHONES, base, mine, theirs));
        }""",
        [case[:3] for case in REBASE_CASES],
    )
    assert results == [case[3] for case in REBASE_CASES]
