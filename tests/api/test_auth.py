"""Bearer-token verification: every bad token is a 401, a missing grant a 403."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app import create_app
from app.config import TestConfig
from tests.conftest import bearer


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(workspace: str) -> dict[str, dict]:
    now = int(time.time())
    claims = {"workspaces": [workspace], "scope": "contacts:read", "exp": now + 600}
    none_token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    return {
        "missing": {},
        "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": bearer(workspace, ttl=-3600),
        "wrong key": bearer(workspace, secret="another-secret-of-sufficient-length-0123"),
        "alg none": {"Authorization": f"Bearer {none_token}"},
        "no exp": {
            "Authorization": "Bearer "
            + jwt.encode(
                {"workspaces": [workspace], "scope": "contacts:read"}, TestConfig.JWT_SECRET
            )
        },
    }


@pytest.mark.parametrize("case", list(bad_tokens("ws_x")))
def test_bad_tokens_are_401_in_the_error_shape(client, workspace, case):
    headers = bad_tokens(workspace)[case]
    for method, path in (
        ("get", f"/v1/contacts?workspaceId={workspace}"),
        ("post", "/v1/contacts/normalize"),
        ("get", "/v1/contacts/contact_abc"),
    ):
        response = getattr(client, method)(
            path, headers=headers, json={"phone": "1"} if method == "post" else None
        )
        assert response.status_code == 401, (case, path, response.json)
        assert response.json["error"]["code"] == "unauthorized"


def test_missing_scope_is_403(client, workspace):
    read_only = bearer(workspace, scope="contacts:read")
    response = client.post(
        "/v1/contacts", json={"workspaceId": workspace, "firstName": "A"}, headers=read_only
    )
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert client.get(f"/v1/contacts?workspaceId={workspace}", headers=read_only).status_code == 200
    no_scope = bearer(workspace, scope="dnc:read")
    assert client.get(f"/v1/contacts?workspaceId={workspace}", headers=no_scope).status_code == 403


def test_workspace_not_granted_is_403(client, workspace):
    response = client.get(f"/v1/contacts?workspaceId={workspace}", headers=bearer("ws_other"))
    assert response.status_code == 403


def test_a_token_for_two_workspaces_reaches_both(client):
    both = bearer(["ws_aaa111", "ws_bbb222"])
    ids = []
    for ws in ("ws_aaa111", "ws_bbb222"):
        created = client.post(
            "/v1/contacts", json={"workspaceId": ws, "firstName": ws}, headers=both
        )
        assert created.status_code == 201
        ids.append(created.json["data"]["id"])
    for contact_id in ids:
        assert client.get(f"/v1/contacts/{contact_id}", headers=both).status_code == 200
    only_a = bearer("ws_aaa111")
    assert client.get(f"/v1/contacts/{ids[1]}", headers=only_a).status_code == 404


def test_rs256_public_key_verification():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    class RsaConfig(TestConfig):
        JWT_ALGORITHMS = ["RS256"]
        JWT_PUBLIC_KEY = public_pem

    client = create_app(RsaConfig).test_client()
    claims = {"workspaces": ["ws_rsa"], "scope": "contacts:read", "exp": int(time.time()) + 60}
    good = jwt.encode(claims, key, algorithm="RS256")
    body = {"phone": "(415) 555-1234"}
    ok = client.post(
        "/v1/contacts/normalize", json=body, headers={"Authorization": f"Bearer {good}"}
    )
    assert ok.status_code == 200
    # An HS256 token signed with the public key text must not pass (algorithm confusion).
    forged = jwt.encode(claims, TestConfig.JWT_SECRET, algorithm="HS256")
    refused = client.post(
        "/v1/contacts/normalize", json=body, headers={"Authorization": f"Bearer {forged}"}
    )
    assert refused.status_code == 401


def _rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, public_pem


def _hmac_token(claims: dict, secret: bytes) -> str:
    """An HS256 token signed by hand (PyJWT refuses to sign HMAC with a PEM key)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_mixed_hs256_and_rs256_config_verifies_both_and_refuses_confusion_with_401():
    key, public_pem = _rsa_pair()
    other_key, _ = _rsa_pair()

    class Mixed(TestConfig):
        JWT_ALGORITHMS = ["HS256", "RS256"]
        JWT_PUBLIC_KEY = public_pem

    class MixedWithoutPublicKey(Mixed):
        JWT_PUBLIC_KEY = ""

    claims = {"workspaces": ["ws_mix"], "scope": "contacts:read", "exp": int(time.time()) + 60}
    body = {"phone": "(415) 555-1234"}

    def status(client, token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        response = client.post("/v1/contacts/normalize", json=body, headers=headers)
        assert response.json and ("data" in response.json or "error" in response.json)
        return response.status_code

    client = create_app(Mixed).test_client()
    assert status(client, jwt.encode(claims, TestConfig.JWT_SECRET, algorithm="HS256")) == 200
    assert status(client, jwt.encode(claims, key, algorithm="RS256")) == 200
    refused = {
        "hs256 with the public key as secret": _hmac_token(claims, public_pem.encode()),
        "hs256 with another secret": jwt.encode(claims, "x" * 40, algorithm="HS256"),
        "rs256 with another key": jwt.encode(claims, other_key, algorithm="RS256"),
        "rs512, not configured": jwt.encode(claims, key, algorithm="RS512"),
        "hs512, not configured": jwt.encode(claims, TestConfig.JWT_SECRET, algorithm="HS512"),
    }
    for case, token in refused.items():
        assert status(client, token) == 401, case
    # A configured algorithm with no key for it refuses its tokens (401), never a 500.
    keyless = create_app(MixedWithoutPublicKey).test_client()
    assert status(keyless, jwt.encode(claims, key, algorithm="RS256")) == 401
    assert status(keyless, jwt.encode(claims, TestConfig.JWT_SECRET, algorithm="HS256")) == 200


def test_a_remembered_token_is_refused_once_it_expires(workspace):
    class NoLeeway(TestConfig):
        JWT_LEEWAY_SECONDS = 0

    client = create_app(NoLeeway).test_client()
    headers = bearer(workspace, ttl=2)
    body = {"phone": "(415) 555-1234"}
    assert client.post("/v1/contacts/normalize", json=body, headers=headers).status_code == 200
    assert client.post("/v1/contacts/normalize", json=body, headers=headers).status_code == 200
    time.sleep(2.2)
    expired = client.post("/v1/contacts/normalize", json=body, headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json["error"]["message"]


def test_remembered_tokens_are_keyed_by_digest_whatever_their_length(client, workspace):
    from app import auth

    headers = bearer(workspace, pad="x" * 6_000)  # a 6 KB token, inside header limits
    body = {"phone": "(415) 555-1234"}
    assert client.post("/v1/contacts/normalize", json=body, headers=headers).status_code == 200
    assert auth._VERIFIED and all(sum(map(len, key)) == 64 for key in auth._VERIFIED)
