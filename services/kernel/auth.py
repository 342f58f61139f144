"""Access-token verification, done by every service itself with the accounts service's public
keys. The algorithm is pinned (EdDSA); `exp`, `aud` and `iss` are required and checked; a token
whose session accounts has ended is refused (services/kernel/revocation.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
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
        return self.verify_claims(token)[0]

    def verify_claims(self, token: str) -> tuple[Principal, float]:
        """The token's principal and its expiry (`exp`, seconds since the epoch)."""
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
        principal = Principal(
            user_id=str(claims["sub"]),
            role=role,
            agency_id=claims.get("agency_id"),
            session_id=claims.get("sid"),
            email=claims.get("email"),
        )
        return principal, float(claims["exp"])


class KeyFileVerifier:
    """Verifies with the JWKS file the accounts service publishes; re-reads it when it changes,
    so a key rotation needs no restart.

    A token verified once is remembered until it expires (at most `max_entries` tokens, the
    oldest forgotten first): a client sends the same access token with every request for its
    15 minutes, and checking its signature and claims again each time was most of the cost
    of authenticating a request. Only the exact token string verified is remembered; its
    expiry is still checked on every use, the key file's change forgets them all, and the
    session's revocation is still asked per request (`verified_principal`)."""

    def __init__(
        self, path: Path, *, issuer: str, audience: str, max_entries: int = 10_000
    ) -> None:
        self.path = path
        self.issuer = issuer
        self.audience = audience
        self.max_entries = max_entries
        self._mtime = -1.0
        self._verifier: TokenVerifier | None = None
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            raise Unauthorized() from exc
        if self._verifier is None or mtime != self._mtime:
            jwks = json.loads(self.path.read_text())
            self._verifier = TokenVerifier(jwks, issuer=self.issuer, audience=self.audience)
            self._mtime = mtime
            self._verified.clear()
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if time.time() < expires:  # PyJWT's own rule: expired once now >= exp
                return principal
            del self._verified[token]
            raise Unauthorized()
        principal, expires = self._verifier.verify_claims(token)
        if len(self._verified) >= self.max_entries:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires)
        return principal


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


def require_role(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    # async: FastAPI runs a plain function dependency in a worker thread (a thread hop)
    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden()
        return principal

    return dependency


CurrentAdmin = Annotated[Principal, Depends(require_role("admin"))]
