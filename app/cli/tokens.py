"""Development bearer tokens that the local stack accepts (HS256, the configured secret)."""

from __future__ import annotations

import time
import uuid

import click
import jwt

from app.auth import SCOPES
from app.config import Config


def mint(
    workspaces: list[str],
    scope: str = " ".join(SCOPES),
    ttl: int = 3600,
    subject: str = "dev-user",
    secret: str | None = None,
    **claims,
) -> str:
    """An HS256 token granting `workspaces` and `scope` for `ttl` seconds."""
    now = int(time.time())
    payload = {
        "sub": subject,
        "workspaces": workspaces,
        "scope": scope,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, secret or Config.JWT_SECRET, algorithm="HS256")


@click.command("mint-token")
@click.option(
    "--workspace", "workspaces", multiple=True, required=True, help="Granted workspace; repeat."
)
@click.option("--scope", default=" ".join(SCOPES), show_default=True, help="Space-separated.")
@click.option(
    "--ttl",
    type=click.IntRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds until the token expires.",
)
@click.option("--sub", "subject", default="dev-user", show_default=True, help="The subject.")
def mint_token(workspaces: tuple[str, ...], scope: str, ttl: int, subject: str) -> None:
    """Print a development bearer token.

    HS256, signed with JWT_SECRET, granting the workspaces and scopes asked for:

    \b
    TOKEN=$(contacts mint-token --workspace ws_abc123)
    curl -H "Authorization: Bearer $TOKEN" ...
    """
    click.echo(mint(list(workspaces), scope, ttl, subject))


commands = (mint_token,)
