"""Access-token verification, done by every service itself with the accounts service's public
keys. The algorithm is pinned (EdDSA); `exp`, `aud` and `iss` are required and checked; a token
whose session accounts has ended is refused (services/kernel/revocation.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from jwt.algorithms import OKPAlgorithm

from services.kernel.errors import Forbidden, Unauthorized
from services.kernel.revocation import RevocationCheck

ALGORITHM = "EdDSA"
ROLES = ("citizen", "officer", "admin")


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    agency_id: str | None
    session_id: str | None
    email: str | None = None
    """Where the services write to the account holder (accounts puts it in the token)."""


class TokenVerifier:
    def __init__(self, jwks: dict[str, Any], *, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = {
            k["kid"]: OKPAlgorithm.from_jwk(json.dumps(k))
            for k in jwks.get("keys", [])
            if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"
        }

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise jwt.InvalidAlgorithmError("algorithm not allowed")
            key = self.keys.get(str(header.get("kid")))
            if key is None:
                raise jwt.InvalidKeyError("unknown key")
            claims = jwt.decode(
                token,
                # from_jwk may give a private key by its types; a JWKS holds public keys only
                key=key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "aud", "iss", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized() from exc
        role = claims.get("role")
        if role not in ROLES:
            raise Unauthorized()
        return Principal(
            user_id=str(claims["sub"]),
            role=role,
            agency_id=claims.get("agency_id"),
            session_id=claims.get("sid"),
            email=claims.get("email"),
        )


class KeyFileVerifier:
    """Verifies with the JWKS file the accounts service publishes; re-reads it when it changes,
    so a key rotation needs no restart."""

    def __init__(self, path: Path, *, issuer: str, audience: str) -> None:
        self.path = path
        self.issuer = issuer
        self.audience = audience
        self._mtime = -1.0
        self._verifier: TokenVerifier | None = None

    def verify(self, token: str) -> Principal:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            raise Unauthorized() from exc
        if self._verifier is None or mtime != self._mtime:
            jwks = json.loads(self.path.read_text())
            self._verifier = TokenVerifier(jwks, issuer=self.issuer, audience=self.audience)
            self._mtime = mtime
        return self._verifier.verify(token)


TOKEN_URL = "/api/v1/accounts/token"
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def _verifier(request: Request) -> TokenVerifier | KeyFileVerifier:
    # Starlette's app.state holds Any; create_app put a verifier there
    return request.app.state.token_verifier  # type: ignore[no-any-return]


async def verified_principal(request: Request, token: str) -> Principal:
    """The token's principal: signature and claims checked, and its session not revoked."""
    principal = _verifier(request).verify(token)
    revocations: RevocationCheck | None = getattr(request.app.state, "session_revocations", None)
    if (
        principal.session_id
        and revocations is not None
        and await revocations.is_revoked(principal.session_id)
    ):
        raise Unauthorized()
    return principal


async def current_principal(
    request: Request,
    token: Annotated[str | None, Depends(_bearer)],
) -> Principal:
    if not token:
        raise Unauthorized()
    return await verified_principal(request, token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def optional_principal(
    request: Request,
    token: Annotated[str | None, Depends(_bearer)],
) -> Principal | None:
    """The signed-in user, or None when no bearer token is sent (a bad one is still 401)."""
    return await verified_principal(request, token) if token else None


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_role(*roles: str) -> Callable[[Principal], Principal]:
    def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden()
        return principal

    return dependency


CurrentAdmin = Annotated[Principal, Depends(require_role("admin"))]
