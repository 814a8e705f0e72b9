"""Browser tests of the console: Debian's chromium driven by Playwright, against the app
served on a free 127.0.0.1 port (the run's own index and Redis prefixes) with a worker
beside it. Every request to anything but 127.0.0.1 is aborted and recorded."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.cli.tokens import mint
from app.config import TestConfig
from tests.conftest import ALL_SCOPES
from tests.servers import start_worker, stop_group

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("UI_ARTIFACTS", ROOT / ".artifacts" / "ui"))


class ConsoleConfig(TestConfig):
    # Small enough that a test's CSV of a few hundred rows runs as a background job, so
    # the import flow shows the job's progress.
    IMPORT_SYNC_MAX_BYTES = 4096


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    return path


@pytest.fixture(scope="session")
def console_app(app):
    """The console's own app object on the session's indices (created by `app`)."""
    return create_app(ConsoleConfig)


@pytest.fixture(scope="session")
def base_url(console_app):
    server = make_server("127.0.0.1", 0, console_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def worker(console_app, tmp_path_factory):
    """`contacts worker` for the run's queue (background imports)."""
    log = tmp_path_factory.mktemp("ui-worker") / "worker.log"
    settings = {"IMPORT_CHUNK_ROWS": "50", "DNC_RECONCILE_SECONDS": "0"}
    process = start_worker(console_app.config, log, **settings)
    yield process
    stop_group(process)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # The system browser: nothing is downloaded (no `playwright install`).
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


class Watch:
    """What a page did that it should not: requests off 127.0.0.1, dialogs, errors."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser, base_url, watch):
    context = browser.new_context(
        base_url=base_url, accept_downloads=True, viewport={"width": 1200, "height": 860}
    )

    def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1" or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            watch.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.set_default_timeout(10_000)

    def on_dialog(dialog) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: watch.errors.append(msg.text) if msg.type == "error" else None,
    )
    yield page
    context.close()


def token_for(*workspaces: str, scope: str = ALL_SCOPES, ttl: int = 3600) -> str:
    return mint(list(workspaces), scope, ttl=ttl)


def sign_in(page, token: str) -> None:
    page.goto("/console")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#search")


def shot(page, name: str, full_page: bool = True) -> None:
    """A screenshot of the screen as a test artifact (.artifacts/ui/<name>.png)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
