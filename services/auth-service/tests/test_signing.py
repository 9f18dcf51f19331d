from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from chat_auth.signing import KeyFileError, KeyRing, SigningKey, jwk_thumbprint
from chat_testing.keys import write_signing_key


def test_the_kid_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_the_current_key_signs_and_both_keys_verify(tmp_path: Path) -> None:
    previous = SigningKey.from_pem_file(str(write_signing_key(tmp_path / "previous.pem")))
    ring = KeyRing.from_files(
        str(write_signing_key(tmp_path / "current.pem")), str(tmp_path / "previous.pem")
    )
    token = ring.sign({"sub": "u1"})
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": ring.current.kid, "typ": "JWT"}
    key = ring.verification_key(ring.current.kid)
    assert key is not None
    assert jwt.decode(token, key, algorithms=["EdDSA"]) == {"sub": "u1"}
    assert ring.verification_key(previous.kid) is not None
    assert [key["kid"] for key in ring.jwks()["keys"]] == [ring.current.kid, previous.kid]
    assert ring.verification_key("unknown") is None


def test_a_previous_key_equal_to_the_current_is_published_once(tmp_path: Path) -> None:
    path = str(write_signing_key(tmp_path / "key.pem"))
    assert len(KeyRing.from_files(path, path).jwks()["keys"]) == 1


def test_key_files_that_cannot_sign_stop_start_up_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"missing\.pem"):
        SigningKey.from_pem_file(str(tmp_path / "missing.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(KeyFileError, match=r"garbage\.pem"):
        SigningKey.from_pem_file(str(garbage))
    rsa = tmp_path / "rsa.pem"
    rsa.write_bytes(
        generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        SigningKey.from_pem_file(str(rsa))
