"""Print a development bearer token that the local stack accepts.

python scripts/mint_token.py --workspace ws_abc123 [--workspace ws_other]
    [--scope "contacts:read contacts:write"] [--ttl 3600] [--sub user_1]
"""

from __future__ import annotations

import argparse
import time
import uuid

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


def main() -> None:
    parser = argparse.ArgumentParser(description="Mint a development HS256 token.")
    parser.add_argument("--workspace", action="append", required=True)
    parser.add_argument("--scope", default=" ".join(SCOPES))
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until exp")
    parser.add_argument("--sub", default="dev-user")
    args = parser.parse_args()
    print(mint(args.workspace, args.scope, args.ttl, args.sub))


if __name__ == "__main__":
    main()
