"""The contacts console (/console) and the vendored ReDoc bundle behind /docs.

The console is static: plain ES modules in app/console/static that call the API from the
same origin with the user's bearer token. Nothing is fetched from a CDN: ReDoc comes from
the `redoc` npm package that `make assets` installs into app/console/node_modules.

Every console and /docs response carries a strict Content-Security-Policy: scripts only
from this origin and never inline, so a contact named `<script>` can at worst be text.
ReDoc styles itself with injected <style> elements and runs its search in a blob: worker,
so /docs alone allows inline styles and blob: workers; neither page allows inline script.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, request, send_from_directory

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
STATIC_DIR = CONSOLE_DIR / "static"
REDOC_DIR = CONSOLE_DIR / "node_modules" / "redoc" / "bundles"
REDOC_URL = "/console/vendor/redoc.standalone.js"

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

blp = Blueprint(
    "console",
    __name__,
    static_folder=str(STATIC_DIR),
    static_url_path="/console/static",
)


@blp.get("/console")
@blp.get("/console/")
def index() -> Response:
    """The console's single page; the modules route by the URL fragment."""
    response = send_from_directory(STATIC_DIR, "index.html")
    response.cache_control.no_cache = True
    return response


@blp.get("/console/vendor/redoc.standalone.js")
def redoc_bundle() -> Response:
    """ReDoc's standalone bundle, from the pinned npm package (see `make assets`)."""
    if not (REDOC_DIR / "redoc.standalone.js").is_file():
        abort(404)
    return send_from_directory(REDOC_DIR, "redoc.standalone.js", max_age=3600)


@blp.after_app_request
def content_security_policy(response: Response) -> Response:
    path = request.path
    if path == "/console" or path.startswith("/console/"):
        response.headers["Content-Security-Policy"] = CONSOLE_CSP
    elif path == "/docs" or path.startswith("/docs/"):
        response.headers["Content-Security-Policy"] = DOCS_CSP
    else:
        return response
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
