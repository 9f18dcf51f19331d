"""Signing keys: the current Ed25519 key signs access tokens; the previous one only verifies.

Both are published in the JWKS, named by their RFC 7638 thumbprint, so a key can be rotated
without logging anyone out (docs/auth-service.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ALGORITHM = "EdDSA"


class KeyFileError(Exception):
    """A key file is missing or holds no Ed25519 private key; the message names the file."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 for an OKP key (RFC 8037): SHA-256 over the required members, sorted, compact."""
    if jwk.get("kty") != "OKP":
        raise ValueError("only OKP (Ed25519) keys are used here")
    members = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    public_jwk: dict[str, str]

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
        kid = jwk_thumbprint(jwk)
        return cls(kid, private_key, {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})

    @classmethod
    def from_pem_file(cls, path: str) -> SigningKey:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read the signing key file {path}: {exc.strerror}") from exc
        try:
            private_key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path} holds no unencrypted PEM private key") from exc
        if not isinstance(private_key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} holds a {type(private_key).__name__}, not an Ed25519 key")
        return cls.from_private_key(private_key)


class KeyRing:
    def __init__(self, current: SigningKey, previous: SigningKey | None = None) -> None:
        self.current = current
        self.previous = previous if previous is not None and previous.kid != current.kid else None
        self._verifying = {
            key.kid: jwt.PyJWK(key.public_jwk, algorithm=ALGORITHM)
            for key in (current, self.previous)
            if key is not None
        }

    @classmethod
    def from_files(cls, signing_key_file: str, previous_key_file: str = "") -> KeyRing:
        current = SigningKey.from_pem_file(signing_key_file)
        previous = SigningKey.from_pem_file(previous_key_file) if previous_key_file else None
        return cls(current, previous)

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self.current.private_key,
            algorithm=ALGORITHM,
            headers={"kid": self.current.kid, "typ": "JWT"},
        )

    def verification_key(self, kid: str) -> jwt.PyJWK | None:
        return self._verifying.get(kid)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        keys = [self.current] if self.previous is None else [self.current, self.previous]
        return {"keys": [key.public_jwk for key in keys]}
