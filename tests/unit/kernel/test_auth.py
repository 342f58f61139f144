"""Access-token verification by the services: a token verified once is remembered, and is still
refused once it expires, once the keys change, or when any character of it differs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.accounts.security import Signer
from services.kernel import auth
from services.kernel.auth import KeyFileVerifier
from services.kernel.errors import Unauthorized

ISSUER, AUDIENCE = "portal-accounts", "portal"


def publish(signer: Signer, path: Path, mtime: float) -> None:
    path.write_text(json.dumps(signer.jwks()))
    os.utime(path, (mtime, mtime))


def token(signer: Signer, ttl: int = 900, **claims: str) -> str:
    return signer.access_token(
        {"sub": "u1", "role": "citizen", "sid": "s1", **claims},
        issuer=ISSUER,
        audience=AUDIENCE,
        ttl=ttl,
    )


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture
def verifier(signer: Signer, tmp_path: Path) -> KeyFileVerifier:
    publish(signer, tmp_path / "jwks.json", 1_000_000.0)
    return KeyFileVerifier(tmp_path / "jwks.json", issuer=ISSUER, audience=AUDIENCE)


def test_a_remembered_token_gives_the_same_principal(
    signer: Signer, verifier: KeyFileVerifier
) -> None:
    access = token(signer, role="officer", agency_id="HT-STP")
    first = verifier.verify(access)
    assert first.role == "officer" and first.agency_id == "HT-STP" and first.session_id == "s1"
    assert verifier.verify(access) == first


def test_a_remembered_token_is_refused_once_expired(
    signer: Signer, verifier: KeyFileVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = token(signer, ttl=60)
    verifier.verify(access)
    now = auth.time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + 61)
    with pytest.raises(Unauthorized):
        verifier.verify(access)


def test_a_remembered_token_is_refused_once_its_key_is_gone(
    signer: Signer, verifier: KeyFileVerifier
) -> None:
    access = token(signer)
    verifier.verify(access)
    publish(Signer(Ed25519PrivateKey.generate()), verifier.path, 2_000_000.0)  # key rotated
    with pytest.raises(Unauthorized):
        verifier.verify(access)


def test_a_token_differing_from_a_remembered_one_is_verified_again(
    signer: Signer, verifier: KeyFileVerifier
) -> None:
    access = token(signer)
    verifier.verify(access)
    head, payload, signature = access.split(".")
    forged = ".".join((head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    with pytest.raises(Unauthorized):
        verifier.verify(forged)
    other = Signer(Ed25519PrivateKey.generate())
    with pytest.raises(Unauthorized):
        verifier.verify(token(other, role="admin"))


def test_at_most_max_entries_tokens_are_remembered(signer: Signer, tmp_path: Path) -> None:
    publish(signer, tmp_path / "jwks.json", 1_000_000.0)
    verifier = KeyFileVerifier(
        tmp_path / "jwks.json", issuer=ISSUER, audience=AUDIENCE, max_entries=3
    )
    tokens = [token(signer, sub=f"u{i}") for i in range(5)]
    for access in tokens:
        verifier.verify(access)
    assert len(verifier._verified) == 3  # noqa: SLF001
    assert [verifier.verify(t).user_id for t in tokens] == [f"u{i}" for i in range(5)]
