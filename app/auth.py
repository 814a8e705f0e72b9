"""Bearer-token verification and the workspace and scope checks.

Tokens are JWTs issued elsewhere on the platform. They must carry `exp`; they grant
workspaces (`workspaces: ["ws_..."]`) and scopes (`scope: "contacts:read ..."`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from flask import current_app, g, request

from app.errors import Forbidden, Unauthorized

log = logging.getLogger(__name__)
SCOPES = ("contacts:read", "contacts:write", "dnc:read", "dnc:write")


@dataclass(frozen=True)
class Principal:
    subject: str
    workspaces: frozenset[str]
    scopes: frozenset[str]
    token_id: str

    def require_workspace(self, workspace_id: str) -> None:
        """403 when the token does not hold the workspace named in the request."""
        if workspace_id not in self.workspaces:
            raise Forbidden(f"The token does not grant workspace {workspace_id}.")


def _verification_key(algorithm: str) -> str:
    """The key for one algorithm: the shared secret for HS*, the public key otherwise.

    Chosen by the token's own `alg` (already checked against JWT_ALGORITHMS), so a
    configuration allowing HS256 and RS256 verifies both, and each algorithm only ever
    meets its own kind of key: an HMAC check never runs with the public key.
    """
    config = current_app.config
    return config["JWT_SECRET"] if algorithm.startswith("HS") else config["JWT_PUBLIC_KEY"]


# Dialers send the same token thousands of times: a token whose signature and claims were
# verified is remembered until its `exp` (bounded; keyed by the verification settings too).
_VERIFIED: dict[tuple, tuple[Principal, float]] = {}
_VERIFIED_MAX = 10_000


def decode_token(token: str) -> Principal:
    """The token's principal; verified once per request however many hooks ask."""
    memo = g.setdefault("verified_tokens", {})
    if token not in memo:
        memo[token] = _remembered(token)
    return memo[token]


def _remembered(token: str) -> Principal:
    config = current_app.config
    # Keyed by digests: 10,000 entries stay a few MB whatever the tokens' and keys' length.
    settings = (
        tuple(config["JWT_ALGORITHMS"]),
        config["JWT_SECRET"],
        config["JWT_PUBLIC_KEY"],
        config["JWT_AUDIENCE"],
        config["JWT_ISSUER"],
    )
    key = (hashlib.sha256(token.encode()).digest(), _settings_digest(settings))
    hit = _VERIFIED.get(key)
    if hit and time.time() < hit[1]:
        return hit[0]
    principal, expires = _verify(token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (principal, expires)
    return principal


@functools.lru_cache(maxsize=16)
def _settings_digest(settings: tuple) -> bytes:
    """The verification settings' digest, computed once per distinct settings (the key
    may be a long PEM; hashing it on every request was ~1.5 % of a search's CPU)."""
    return hashlib.sha256(repr(settings).encode()).digest()


def _verify(token: str) -> tuple[Principal, float]:
    """Full verification: the principal and the time after which it must not be reused."""
    config = current_app.config
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
        # An explicit allow-list: "none" and anything not configured never reach a key.
        if not isinstance(algorithm, str) or algorithm not in config["JWT_ALGORITHMS"]:
            raise Unauthorized("The token is not valid.")
        claims = jwt.decode(
            token,
            _verification_key(algorithm),
            algorithms=[algorithm],
            audience=config["JWT_AUDIENCE"],
            issuer=config["JWT_ISSUER"],
            leeway=config["JWT_LEEWAY_SECONDS"],
            options={"require": ["exp"], "verify_aud": config["JWT_AUDIENCE"] is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The token is not valid.") from exc
    except jwt.PyJWTError as exc:  # e.g. InvalidKeyError: no usable key for its algorithm
        log.warning("token refused, no usable %s key: %s", algorithm, exc)
        raise Unauthorized("The token is not valid.") from exc
    workspaces = claims.get("workspaces") or []
    scope = claims.get("scope") or ""
    if not isinstance(workspaces, list) or not isinstance(scope, str):
        raise Unauthorized("The token claims are malformed.")
    principal = Principal(
        subject=str(claims.get("sub", "")),
        workspaces=frozenset(str(w) for w in workspaces),
        scopes=frozenset(scope.split()),
        token_id=str(claims.get("jti") or claims.get("sub") or token[-16:]),
    )
    # Reused no longer than PyJWT itself would accept it (exp plus the configured leeway).
    return principal, float(claims["exp"]) + config["JWT_LEEWAY_SECONDS"]


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate() -> Principal:
    token = bearer_token()
    if token is None:
        raise Unauthorized()
    principal = decode_token(token)
    g.principal = principal
    return principal


def require_scope(scope: str) -> Callable:
    """Decorator: a valid token carrying `scope`; the principal lands in flask.g."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate()
            if scope not in principal.scopes:
                raise Forbidden(f"The token lacks the {scope} scope.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_principal() -> Principal:
    return g.principal
