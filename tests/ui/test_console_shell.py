"""Sign-in, the workspace picker, token expiry, and the console and /docs offline."""

from __future__ import annotations

import re

from tests.ui.conftest import shot, sign_in, token_for


def clean(watch, allowed: str = "Failed to load resource") -> None:
    """Nothing left 127.0.0.1, no script error, no Content-Security-Policy violation."""
    assert watch.blocked == []
    assert [e for e in watch.errors if allowed not in e] == []


def test_console_and_docs_load_with_everything_but_loopback_blocked(page, watch):
    response = page.goto("/console")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    page.wait_for_selector("#token")
    shot(page, "signin")

    response = page.goto("/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # ReDoc rendered the document: the API's title and an operation from /openapi.json.
    page.get_by_role("heading", name=re.compile("Contacts API")).first.wait_for()
    page.get_by_text(
        "Search a workspace's contacts by name, company, email or phone."
    ).first.wait_for(state="attached")
    shot(page, "docs", full_page=False)
    # ReDoc's attribution asks for a remote logo: the policy stops it before any request
    # is made (nothing reached the network, `blocked` is empty) and ReDoc hides the image.
    csp_stopped = [e for e in watch.errors if "Content Security Policy" in e]
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in e for e in csp_stopped)
    watch.errors = [e for e in watch.errors if e not in csp_stopped]
    clean(watch)


def test_sign_in_lists_the_tokens_workspaces_and_an_expired_token_is_sent_back(page, watch):
    page.goto("/console")
    page.fill("#token", "not-a-token")
    page.click("button[type=submit]")
    assert "not a JWT" in page.text_content("#signin-error")

    page.fill("#token", token_for("ws_a1", ttl=-60))
    page.click("button[type=submit]")
    assert "expired" in page.text_content("#signin-error")

    sign_in(page, token_for("ws_a1", "ws_b2"))
    assert page.eval_on_selector_all("#workspace option", "els => els.map(e => e.value)") == [
        "ws_a1",
        "ws_b2",
    ]
    assert page.evaluate("location.href").endswith("#/search")
    assert "eyJ" not in page.evaluate("location.href")  # never in a URL
    page.select_option("#workspace", "ws_b2")
    page.wait_for_selector("#results[data-state=ready]")
    assert page.evaluate("sessionStorage.getItem('contacts.workspace')") == "ws_b2"

    # A token that expires while in use sends the user back to sign-in with a message.
    sign_in(page, token_for("ws_a1", ttl=2))
    page.wait_for_selector("#token", timeout=8000)
    assert "expired" in page.text_content("#signin-error")
    assert page.evaluate("sessionStorage.getItem('contacts.token')") is None

    # So does a token the API refuses (here: signed with another secret).
    from app.cli.tokens import mint

    page.fill("#token", mint(["ws_a1"], secret="another-secret-0123456789abcdef-0123"))
    page.click("button[type=submit]")
    page.wait_for_selector("#token")
    assert "Signed out" in page.text_content("#signin-error")
    clean(watch)
