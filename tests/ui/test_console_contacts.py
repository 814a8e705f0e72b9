"""A contact in the browser: create with live phone normalization, view, edit with
If-Match (a 412 offers to reload and re-apply), delete; custom fields viewed and edited;
user text is never markup."""

from __future__ import annotations

from tests.conftest import bearer
from tests.ui.conftest import shot, sign_in, token_for


def test_create_view_edit_with_a_conflict_and_delete(page, client, workspace, watch):
    sign_in(page, token_for(workspace))
    page.click("nav >> text=New contact")
    page.fill("#f-firstName", "Jane")
    page.fill("#f-lastName", "Doe")
    page.fill("#phone-rows .method-value", "(415) 555-2671")
    # Live normalization from /v1/contacts/normalize.
    page.wait_for_selector("#phone-rows .phone-info .e164")
    assert page.text_content("#phone-rows .phone-info .e164") == "+14155552671"
    info = page.text_content("#phone-rows .phone-info")
    assert "valid" in info and "US" in info
    page.fill("#email-rows .method-value", "Jane@Example.com")
    page.fill("#f-company", "Acme Inc")
    page.fill("#f-tags", "vip, lead")
    shot(page, "contact-new")
    page.click("#save")
    page.wait_for_selector("#contact-name")
    contact_id = page.evaluate("location.hash").removeprefix("#/contacts/")
    stored = client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).json["data"]
    assert stored["phone"] == "+14155552671" and stored["email"] == "jane@example.com"
    assert stored["tags"] == ["vip", "lead"]
    assert page.text_content("#phones code.e164") == "+14155552671"
    shot(page, "contact-view")

    # An invalid phone is shown as such while typing.
    page.click("#edit")
    page.fill("#phone-rows .method-value", "12")
    page.wait_for_selector("#phone-rows .phone-info .badge.bad")
    page.fill("#phone-rows .method-value", "+14155552671")
    page.wait_for_selector("#phone-rows .phone-info .e164")

    # Someone else edits the company while this form is open: saving answers 412.
    page.fill("#f-notes", "Interested in premium plan")
    other = client.patch(
        f"/v1/contacts/{contact_id}", json={"company": "Acme Corp"}, headers=bearer(workspace)
    )
    assert other.status_code == 200
    page.click("#save")
    page.wait_for_selector("#reapply")
    shot(page, "contact-conflict")
    page.click("#reapply")
    page.wait_for_selector("#reapplied")
    assert page.input_value("#f-notes") == "Interested in premium plan"  # mine, kept
    assert page.input_value("#f-company") == "Acme Corp"  # theirs, reloaded
    page.click("#save")
    page.wait_for_selector("#contact-name")
    stored = client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).json["data"]
    assert stored["notes"] == "Interested in premium plan" and stored["company"] == "Acme Corp"
    assert page.text_content("dd[data-field=notes]") == "Interested in premium plan"

    # Delete asks once more, then the contact is gone.
    page.click("#delete")
    page.click("#confirm-delete")
    page.wait_for_selector("#search")
    assert client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).status_code == 404
    assert watch.blocked == [] and watch.dialogs == []


def test_a_contact_named_like_markup_is_shown_as_text_and_nothing_runs(
    page, client, workspace, watch
):
    payload = "<img src=x onerror=alert(1)>"
    script = "<script>window.__pwned = 1</script>"
    response = client.post(
        "/v1/contacts?refresh=wait_for",
        json={
            "workspaceId": workspace,
            "firstName": payload,
            "lastName": "Imgson",
            "company": script,
            "notes": '<svg onload="window.__pwned=2">',
            "tags": ["<b>bold</b>"],
        },
        headers=bearer(workspace),
    )
    assert response.status_code == 201
    contact_id = response.json["data"]["id"]
    sign_in(page, token_for(workspace))
    page.fill("#search", "img")
    page.wait_for_function(
        "() => document.getElementById('results').dataset.query === 'img'"
        " && document.querySelectorAll('#results li.hit').length === 1"
    )
    hit = page.locator("#results li.hit")
    assert payload in hit.text_content() and script in hit.text_content()
    shot(page, "xss-search")
    hit.click()
    page.wait_for_selector("#contact-name")
    assert payload in page.text_content("#contact-name")
    assert page.text_content("dd[data-field=notes]") == '<svg onload="window.__pwned=2">'
    shot(page, "xss-contact")
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert page.locator("main img, main script, main svg, main b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert watch.dialogs == []
    assert page.evaluate("location.hash") == f"#/contacts/{contact_id}"
    assert watch.blocked == []


def test_custom_fields_are_shown_and_edited_as_key_value_rows(page, client, workspace, watch):
    response = client.post(
        "/v1/contacts?refresh=wait_for",
        json={
            "workspaceId": workspace,
            "firstName": "Cora",
            "lastName": "Field",
            "customFields": {"plan": "gold", "region": "EMEA", "seats": 12},
        },
        headers=bearer(workspace),
    )
    assert response.status_code == 201
    contact_id = response.json["data"]["id"]
    sign_in(page, token_for(workspace))
    page.evaluate(f"location.hash = '#/contacts/{contact_id}'")
    page.wait_for_selector("#custom-fields dd")
    shown = page.eval_on_selector_all(
        "#custom-fields dd", "els => els.map(e => [e.dataset.custom, e.textContent])"
    )
    assert shown == [["plan", "gold"], ["region", "EMEA"], ["seats", "12"]]

    page.click("#edit")
    rows = page.locator("#custom-rows .custom-row")
    assert rows.count() == 3
    rows.nth(0).locator(".custom-value").fill("platinum")  # plan
    rows.nth(1).locator("button").click()  # region removed
    page.click("#custom-add")
    rows.last.locator(".custom-key").fill("renewal")
    rows.last.locator(".custom-value").fill("2027-01")
    shot(page, "contact-custom-fields")
    with page.expect_request(
        lambda r: r.method == "PATCH" and f"/v1/contacts/{contact_id}" in r.url
    ) as sent:
        page.click("#save")
    assert sent.value.post_data_json == {
        "customFields": {"plan": "platinum", "seats": 12, "renewal": "2027-01"}
    }
    page.wait_for_selector("#contact-name")
    stored = client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).json["data"]
    assert stored["customFields"] == {"plan": "platinum", "seats": 12, "renewal": "2027-01"}
    assert page.text_content("dd[data-custom=renewal]") == "2027-01"

    # Removing every row empties the object.
    page.click("#edit")
    for _ in range(3):
        page.locator("#custom-rows .custom-row button").first.click()
    page.click("#save")
    page.wait_for_selector("p#custom-fields")
    stored = client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).json["data"]
    assert stored["customFields"] == {}
    assert watch.blocked == [] and watch.errors == []
