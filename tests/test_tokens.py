"""Every service verifies access tokens itself: pinned EdDSA, required exp/aud/iss. Forged,
expired or misdirected tokens are all 401."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.accounts_flow import registered_citizen
from tests.support import SmtpSink, Stack


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def citizen(client: httpx.Client, smtp: SmtpSink, email_address: str) -> dict[str, Any]:
    tokens = registered_citizen(client, smtp, email_address)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return {"tokens": tokens, "claims": claims}


def _private_key(stack: Stack):  # type: ignore[no-untyped-def]
    pem = (stack.keys_dir() / "signing-key.pem").read_bytes()
    return serialization.load_pem_private_key(pem, password=None)


def _kid(stack: Stack) -> str:
    return json.loads((stack.keys_dir() / "jwks.json").read_text())["keys"][0]["kid"]


def _status(client: httpx.Client, token: str) -> int:
    return client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_genuine_token_carries_role_and_is_accepted(
    client: httpx.Client, citizen: dict[str, Any], stack: Stack
) -> None:
    claims = citizen["claims"]
    header = jwt.get_unverified_header(citizen["tokens"]["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"] == _kid(stack)
    assert claims["role"] == "citizen" and claims["aud"] == "portal"
    assert claims["exp"] - claims["iat"] == citizen["tokens"]["expires_in"]
    assert _status(client, citizen["tokens"]["access_token"]) == 200


def test_alg_none_is_refused(client: httpx.Client, citizen: dict[str, Any]) -> None:
    claims = {**citizen["claims"], "role": "admin"}
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = f"{header}.{_b64(json.dumps(claims).encode())}."
    assert _status(client, token) == 401


def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.Client, citizen: dict[str, Any], stack: Stack
) -> None:
    public = _private_key(stack).public_key()
    for secret in (
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        (stack.keys_dir() / "jwks.json").read_bytes(),
    ):
        header = {"alg": "HS256", "kid": _kid(stack), "typ": "JWT"}
        signing_input = (
            f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(citizen['claims']).encode())}"
        )
        import hashlib
        import hmac

        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert _status(client, f"{signing_input}.{_b64(signature)}") == 401


def _signed(stack: Stack, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, _private_key(stack), algorithm="EdDSA", headers={"kid": _kid(stack)})


def test_expired_wrong_audience_wrong_issuer_are_refused(
    client: httpx.Client, citizen: dict[str, Any], stack: Stack
) -> None:
    now = int(time.time())
    good = {**citizen["claims"], "iat": now, "nbf": now, "exp": now + 300}
    assert _status(client, _signed(stack, good)) == 200  # the forging itself is sound
    assert _status(client, _signed(stack, {**good, "iat": now - 900, "exp": now - 10})) == 401
    assert _status(client, _signed(stack, {**good, "aud": "another-portal"})) == 401
    assert _status(client, _signed(stack, {**good, "iss": "someone-else"})) == 401
    assert _status(client, _signed(stack, {k: v for k, v in good.items() if k != "exp"})) == 401
    assert _status(client, _signed(stack, {**good, "role": "superuser"})) == 401


def test_tampered_and_garbage_tokens_are_refused(
    client: httpx.Client, citizen: dict[str, Any]
) -> None:
    token = citizen["tokens"]["access_token"]
    head, body, sig = token.split(".")
    forged_body = _b64(json.dumps({**citizen["claims"], "role": "admin"}).encode())
    assert _status(client, f"{head}.{forged_body}.{sig}") == 401
    assert _status(client, "not-a-token") == 401
    response = client.get("/me", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 401
