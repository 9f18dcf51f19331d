from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chat_common.tokens import JwksVerifier, SigningKeysUnavailableError, TokenError

ISSUER = "chat-auth-test"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    """An Ed25519 key named like the auth service names it (RFC 7638 thumbprint)."""

    def __init__(self, kid: str | None = None) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        members = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
        canonical = json.dumps(members, separators=(",", ":")).encode()
        thumbprint = _b64(hashlib.sha256(canonical).digest())
        self.kid = kid or thumbprint
        self.jwk = {**members, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.kid, **header}
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers=headers)


def good_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "chat",
        "sub": str(uuid.uuid4()),
        "name": "alice",
        "roles": ["member"],
        "sid": str(uuid.uuid4()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    parts = [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode())]
    return ".".join([*parts, _b64(signature)])


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    unsigned = forge(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{_b64(signature)}"


class JwksServer:
    """Serves a JWKS from a local port and counts how often it was asked."""

    def __init__(self, *keys: SigningKey) -> None:
        self.document: dict[str, Any] = {"keys": [key.jwk for key in keys]}
        self.status = 200
        self.requests = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests += 1
                body = json.dumps(served.document).encode()
                self.send_response(served.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    def publish(self, *keys: SigningKey) -> None:
        self.document = {"keys": [key.jwk for key in keys]}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def jwks(key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(key)
    yield server
    server.close()


@pytest.fixture
async def verifier(jwks: JwksServer) -> AsyncIterator[JwksVerifier]:
    verifier = JwksVerifier(jwks_url=jwks.url, issuer=ISSUER)
    yield verifier
    await verifier.aclose()


async def refused(verifier: JwksVerifier, token: str) -> str:
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    return str(caught.value)


async def test_a_good_token_is_accepted_with_its_claims(
    verifier: JwksVerifier, key: SigningKey
) -> None:
    claims = good_claims(roles=["member", "moderator"])
    verified = await verifier.verify(key.sign(claims))
    assert verified.sub == claims["sub"]
    assert verified.name == "alice"
    assert verified.roles == ("member", "moderator")
    assert (verified.sid, verified.jti) == (claims["sid"], claims["jti"])
    assert verified.iat == claims["iat"]
    assert verified.nbf == claims["nbf"]
    assert verified.exp == claims["exp"]


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused_in_every_spelling(
    verifier: JwksVerifier, key: SigningKey, alg: str
) -> None:
    unsigned = forge({"alg": alg, "kid": key.kid, "typ": "JWT"}, good_claims())
    assert "algorithm" in await refused(verifier, unsigned)
    with_signature = forge({"alg": alg, "kid": key.kid}, good_claims(), b"\x00" * 64)
    assert "algorithm" in await refused(verifier, with_signature)


def _pem_secret(key: SigningKey) -> bytes:
    return key.public_pem()


def _jwk_secret(key: SigningKey) -> bytes:
    return json.dumps(key.jwk).encode()


def _raw_secret(key: SigningKey) -> bytes:
    return base64.urlsafe_b64decode(key.jwk["x"] + "=")


@pytest.mark.parametrize("secret_of", [_pem_secret, _jwk_secret, _raw_secret])
async def test_hs256_with_the_public_key_as_secret_is_refused(
    verifier: JwksVerifier, key: SigningKey, secret_of: Any
) -> None:
    token = hs256({"alg": "HS256", "kid": key.kid, "typ": "JWT"}, good_claims(), secret_of(key))
    assert "algorithm" in await refused(verifier, token)


async def test_an_unknown_kid_is_refused(verifier: JwksVerifier, key: SigningKey) -> None:
    stranger = SigningKey()
    assert "unknown key" in await refused(verifier, stranger.sign(good_claims()))
    assert await verifier.verify(key.sign(good_claims()))


async def test_unknown_kids_fetch_the_jwks_at_most_once_per_interval(
    jwks: JwksServer, key: SigningKey
) -> None:
    verifier = JwksVerifier(jwks_url=jwks.url, issuer=ISSUER, min_refresh_interval_s=60)
    try:
        await verifier.verify(key.sign(good_claims()))
        for _ in range(20):
            await refused(verifier, SigningKey().sign(good_claims()))
    finally:
        await verifier.aclose()
    assert jwks.requests == 1


async def test_callers_waiting_for_a_fetch_are_served_by_it(
    jwks: JwksServer, key: SigningKey
) -> None:
    # A connection storm: every token arrives before the keys; the first caller fetches and
    # everyone who waited meanwhile uses its answer, whatever the refresh interval.
    verifier = JwksVerifier(jwks_url=jwks.url, issuer=ISSUER, min_refresh_interval_s=0)
    try:
        token = key.sign(good_claims())
        await asyncio.gather(*(verifier.verify(token) for _ in range(20)))
    finally:
        await verifier.aclose()
    assert jwks.requests == 1


@pytest.mark.parametrize(
    "kid", ["../../dev/null", "' OR '1'='1", "", "a" * 300, 123, None, "kid\x00"]
)
async def test_malicious_or_malformed_kids_are_refused_without_a_fetch(
    verifier: JwksVerifier, jwks: JwksServer, key: SigningKey, kid: Any
) -> None:
    header: dict[str, Any] = {"alg": "EdDSA", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    token = forge(header, good_claims(), b"\x00" * 64)
    message = await refused(verifier, token)
    # PyJWT itself refuses a kid that is not a string; either way no key is looked up.
    assert "key id" in message or "well-formed" in message
    assert jwks.requests == 0


@pytest.mark.parametrize("header", ["jku", "x5u"])
async def test_a_key_url_in_the_header_is_ignored(
    verifier: JwksVerifier, key: SigningKey, header: str
) -> None:
    attacker_key = SigningKey()
    attacker = JwksServer(attacker_key)
    try:
        own_kid = attacker_key.sign(good_claims(), **{header: attacker.url})
        await refused(verifier, own_kid)
        borrowed_kid = SigningKey(kid=key.kid).sign(good_claims(), **{header: attacker.url})
        assert "signature" in await refused(verifier, borrowed_kid)
    finally:
        attacker.close()
    assert attacker.requests == 0


async def test_an_expired_token_is_refused(verifier: JwksVerifier, key: SigningKey) -> None:
    past = int(time.time()) - 3600
    token = key.sign(good_claims(iat=past - 600, nbf=past - 600, exp=past))
    assert "expired" in await refused(verifier, token)


async def test_a_token_expired_within_the_leeway_is_accepted(
    verifier: JwksVerifier, key: SigningKey
) -> None:
    now = int(time.time())
    assert await verifier.verify(key.sign(good_claims(iat=now - 600, nbf=now - 600, exp=now - 2)))


async def test_a_token_not_valid_yet_is_refused(verifier: JwksVerifier, key: SigningKey) -> None:
    later = int(time.time()) + 3600
    assert "not valid yet" in await refused(verifier, key.sign(good_claims(nbf=later)))


async def test_a_token_for_another_audience_is_refused(
    verifier: JwksVerifier, key: SigningKey
) -> None:
    assert "audience" in await refused(verifier, key.sign(good_claims(aud="billing")))
    assert "audience" in await refused(verifier, key.sign(good_claims(aud=["chat", "billing"])))


async def test_a_token_from_another_issuer_is_refused(
    verifier: JwksVerifier, key: SigningKey
) -> None:
    assert "issuer" in await refused(verifier, key.sign(good_claims(iss="https://evil.example")))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "typ", "sid"])
async def test_a_token_missing_a_required_claim_is_refused(
    verifier: JwksVerifier, key: SigningKey, claim: str
) -> None:
    message = await refused(verifier, key.sign(good_claims(**{claim: None})))
    assert claim in message


async def test_a_refresh_token_is_not_an_access_token(
    verifier: JwksVerifier, key: SigningKey
) -> None:
    assert "not an access token" in await refused(verifier, key.sign(good_claims(typ="refresh")))
    # The auth service's refresh tokens are opaque: not even a JWT.
    assert "well-formed" in await refused(verifier, secrets.token_urlsafe(32))


async def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(
    verifier: JwksVerifier, key: SigningKey
) -> None:
    impostor = SigningKey(kid=key.kid)
    assert "signature" in await refused(verifier, impostor.sign(good_claims()))


async def test_malformed_claims_are_refused(verifier: JwksVerifier, key: SigningKey) -> None:
    assert "malformed" in await refused(verifier, key.sign(good_claims(roles="admin")))


async def test_after_rotation_the_new_and_the_previous_key_are_accepted(
    jwks: JwksServer, key: SigningKey
) -> None:
    verifier = JwksVerifier(jwks_url=jwks.url, issuer=ISSUER, min_refresh_interval_s=0)
    try:
        assert await verifier.verify(key.sign(good_claims()))
        rotated = SigningKey()
        jwks.publish(rotated, key)
        assert await verifier.verify(rotated.sign(good_claims()))
        assert await verifier.verify(key.sign(good_claims()))
    finally:
        await verifier.aclose()
    assert jwks.requests == 2


async def test_a_withdrawn_key_stops_working_once_the_cache_is_old(
    jwks: JwksServer, key: SigningKey
) -> None:
    verifier = JwksVerifier(
        jwks_url=jwks.url, issuer=ISSUER, min_refresh_interval_s=0, cache_ttl_s=0
    )
    try:
        assert await verifier.verify(key.sign(good_claims()))
        jwks.publish(SigningKey())
        assert "unknown key" in await refused(verifier, key.sign(good_claims()))
    finally:
        await verifier.aclose()


async def test_known_keys_keep_working_while_the_jwks_is_unreachable(
    jwks: JwksServer, key: SigningKey
) -> None:
    verifier = JwksVerifier(
        jwks_url=jwks.url, issuer=ISSUER, min_refresh_interval_s=0, cache_ttl_s=0
    )
    try:
        assert await verifier.verify(key.sign(good_claims()))
        jwks.status = 500
        assert await verifier.verify(key.sign(good_claims()))
        with pytest.raises(SigningKeysUnavailableError):
            await verifier.verify(SigningKey().sign(good_claims()))
    finally:
        await verifier.aclose()


async def test_no_verdict_without_a_reachable_jwks(key: SigningKey) -> None:
    verifier = JwksVerifier(jwks_url="http://127.0.0.1:1/jwks.json", issuer=ISSUER)
    try:
        with pytest.raises(SigningKeysUnavailableError, match="unavailable"):
            await verifier.verify(key.sign(good_claims()))
    finally:
        await verifier.aclose()


async def test_keys_for_other_algorithms_in_the_jwks_are_never_used(
    jwks: JwksServer, key: SigningKey
) -> None:
    jwks.document = {"keys": [{**key.jwk, "alg": "RS256"}]}
    verifier = JwksVerifier(jwks_url=jwks.url, issuer=ISSUER)
    try:
        assert "unknown key" in await refused(verifier, key.sign(good_claims()))
    finally:
        await verifier.aclose()


@pytest.mark.parametrize("algorithms", [("HS256",), ("none",), ()])
def test_the_verifier_accepts_only_asymmetric_algorithms(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        JwksVerifier(jwks_url="http://127.0.0.1:1/", issuer=ISSUER, algorithms=algorithms)
