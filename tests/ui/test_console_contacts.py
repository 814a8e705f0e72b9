"""A contact in the browser: create with live phone normalization, view, edit with
If-Match (a 412 offers to reload and re-apply), delete; user text is never markup."""

from __future__ import annotations

from tests.conftest import bearer
from tests.ui.conftest import shot, sign_in, token_for


def test_create_view_edit_with_a_conflict_and_delete(page, client, workspace, watch):
    sign_in(page, token_for(workspace))
    page.click("nav >> text=New contact")
    page.fill("#f-firstName", "Jane")
    page.fill("#f-lastName", "Doe")
    page.fill("#f-phone", "(415) 555-2671")
    # Live normalization from /v1/contacts/normalize.
    page.wait_for_selector("#phone-info .e164")
    assert page.text_content("#phone-info .e164") == "+14155552671"
    info = page.text_content("#phone-info")
    assert "valid" in info and "US" in info
    page.fill("#f-email", "Jane@Example.com")
    page.fill("#f-company", "Acme Inc")
    page.fill("#f-tags", "vip, lead")
    shot(page, "contact-new")
    page.click("#save")
    page.wait_for_selector("#contact-name")
    contact_id = page.evaluate("location.hash").removeprefix("#/contacts/")
    stored = client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).json["data"]
    assert stored["phone"] == "+14155552671" and stored["email"] == "jane@example.com"
    assert stored["tags"] == ["vip", "lead"]
    assert page.text_content("dd[data-field=phone]") == "+14155552671"
    shot(page, "contact-view")

    # An invalid phone is shown as such while typing.
    page.click("#edit")
    page.fill("#f-phone", "12")
    page.wait_for_selector("#phone-info .badge.bad")
    page.fill("#f-phone", "+14155552671")
    page.wait_for_selector("#phone-info .e164")

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
