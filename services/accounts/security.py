"""Credentials: argon2id password hashes, the Ed25519 signing key and its JWKS, access tokens,
opaque refresh tokens, e-mailed codes and link tokens, device tokens and captcha images."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.kernel.auth import ALGORITHM

# OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
password_hasher = PasswordHasher(
    time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    try:
        return password_hasher.verify(password_hash or _DUMMY_HASH, password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


def burn_password_hash(password: str) -> None:
    """Spend the time of a real hash where no account is created, against timing probes."""
    password_hasher.hash(password)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def ensure_signing_key(private_path: Path, jwks_path: Path) -> None:
    """Create the Ed25519 signing key and its public JWKS if they are missing."""
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except FileNotFoundError:
            private_path.parent.mkdir(parents=True, exist_ok=True)
            return ensure_signing_key(private_path, jwks_path)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    signer = Signer.from_file(private_path)
    wanted = json.dumps(signer.jwks(), indent=2)
    if not jwks_path.exists() or jwks_path.read_text() != wanted:
        _write_private(jwks_path, wanted.encode())
        jwks_path.chmod(0o644)


def ensure_secret(path: Path) -> str:
    if not path.exists():
        _write_private(path, secrets.token_hex(32).encode())
    return path.read_text().strip()


class Signer:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(public).rstrip(b"=").decode()
        # RFC 7638 thumbprint as the key id.
        thumb = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(thumb.encode()).digest())[:16].decode()
        self.public_jwk: dict[str, Any] = {
            **json.loads(OKPAlgorithm.to_jwk(key.public_key())),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise RuntimeError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def access_token(self, claims: dict[str, Any], *, issuer: str, audience: str, ttl: int) -> str:
        now = int(time.time())
        payload = {
            **claims,
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(payload, self.key, algorithm=ALGORITHM, headers={"kid": self.kid})


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(secret: str, purpose: str, user_id: str, code: str) -> str:
    """The keyed hash stored for an e-mailed code or link token."""
    message = f"{purpose}:{user_id}:{code.strip()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def is_short_code(code: str) -> bool:
    """A 6-digit code typed from an e-mail; anything else offered as a code is a link token."""
    code = code.strip()
    return len(code) == 6 and code.isascii() and code.isdigit()


def new_link_token() -> str:
    """The token of an e-mailed link: 256 random bits, never guessed, so wrong tries do not
    burn it."""
    return secrets.token_urlsafe(32)


DEVICE_TOKEN_VERSION = "dv1"


def _device_mac(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), f"device-token:{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def device_token(secret: str, user_id: str, device_id: str, issued: int | None = None) -> str:
    """OWASP's "device cookie": which browser (device id) signed in to which account, signed
    with the accounts secret. It proves nothing but that this device signed in before; sign-in
    counts the failures of such a device apart from everyone else's."""
    payload = f"{DEVICE_TOKEN_VERSION}.{device_id}.{user_id}.{int(issued or time.time())}"
    return f"{payload}.{_device_mac(secret, payload)}"


def open_device_token(
    secret: str, token: str, ttl: int, now: float | None = None
) -> tuple[str, str] | None:
    """(user id, device id) of a device token this secret signed less than `ttl` s ago."""
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != DEVICE_TOKEN_VERSION or not parts[3].isdigit():
        return None
    payload, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(mac.encode(), _device_mac(secret, payload).encode()):
        return None
    age = (now if now is not None else time.time()) - int(parts[3])
    if not -60 <= age <= ttl:
        return None
    return parts[2], parts[1]


CAPTCHA_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1L")


AUDIO_CAPTCHA_DIGITS = 6
"""An audio captcha's answer: digits only (the `captcha` library's voice speaks digits), one
more than an image's letters to keep a blind guess as unlikely (10⁻⁶ against 26⁻⁵ ≈ 8·10⁻⁸; one
guess per captcha either way)."""


@dataclass(frozen=True)
class CaptchaImage:
    answer: str
    png: bytes
    wav: bytes | None = None
    """The same answer spoken (an audio captcha), for people who cannot read the image."""


_captcha = ImageCaptcha(width=200, height=70)
_audio = AudioCaptcha()


def make_captcha(length: int = 5) -> CaptchaImage:
    answer = "".join(secrets.choice(CAPTCHA_ALPHABET) for _ in range(length))
    buf: BytesIO = _captcha.generate(answer, format="png")
    return CaptchaImage(answer=answer, png=buf.getvalue())


def make_audio_captcha(length: int = AUDIO_CAPTCHA_DIGITS) -> CaptchaImage:
    """A captcha of digits, drawn and spoken (WCAG 1.1.1: a non-visual alternative)."""
    answer = "".join(secrets.choice(string.digits) for _ in range(length))
    png: BytesIO = _captcha.generate(answer, format="png")
    return CaptchaImage(answer=answer, png=png.getvalue(), wav=bytes(_audio.generate(answer)))


def captcha_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def audio_data_url(wav: bytes) -> str:
    return "data:audio/wav;base64," + base64.b64encode(wav).decode()
