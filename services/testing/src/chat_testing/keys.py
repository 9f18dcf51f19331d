"""Signing keys for an auth service under test."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def write_signing_key(path: Path) -> Path:
    """A new Ed25519 key written to ``path`` as unencrypted PKCS#8 PEM, as the service reads it."""
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def signing_key(directory: Path) -> Path:
    """The key of ``directory``, made on first use: every service a test starts there shares it."""
    path = directory / "auth-signing.pem"
    return path if path.exists() else write_signing_key(path)
