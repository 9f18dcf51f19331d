"""Makes the development secrets of compose.yaml once: the auth service's signing key and the
balancer's TLS certificate for localhost.

Runs in the auth-service image (which carries ``cryptography``) as the one-shot ``secrets``
service, writing into the ``secrets`` volume. Files that exist are kept, so tokens and the
certificate survive ``docker compose down``/``up``; ``docker compose down -v`` starts afresh.
Each file is readable only by the user of the one container that needs it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The users the images run as: the Python services and nginx.
SERVICE_UID = 10001
NGINX_UID = 101
# A year, like the local balancer's certificate; browsers warn either way (self-signed).
CERT_DAYS = 365


def _write(path: Path, data: bytes, owner: int, mode: int) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    os.chown(temporary, owner, owner)
    temporary.chmod(mode)
    temporary.replace(path)


def _pem(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_signing_key(folder: Path) -> None:
    path = folder / "signing.pem"
    if path.exists():
        return
    _write(path, _pem(ed25519.Ed25519PrivateKey.generate()), SERVICE_UID, 0o400)
    print(f"made a development signing key: {path}")


def make_certificate(folder: Path) -> None:
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    if cert_path.exists() and key_path.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _pem(key), NGINX_UID, 0o400)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), NGINX_UID, 0o444)
    print(f"made a self-signed certificate for localhost: {cert_path}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: make_secrets.py FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    make_signing_key(folder)
    make_certificate(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
