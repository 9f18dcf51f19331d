"""Verification of access tokens with the auth service's published keys (JWKS).

The gateway holds public keys only. Rules follow RFC 8725: the algorithm is pinned by the
verifier (never taken from the token), the key comes from the configured JWKS only (``jku`` and
``x5u`` headers are ignored), issuer, audience and times are checked, and only ``typ=access``
tokens pass.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import jwt
import msgspec
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKError,
)

log = logging.getLogger(__name__)

# Every claim docs/protocol.md puts in an access token; a token missing one is refused.
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "iss", "aud", "sub", "typ", "sid", "jti", "name", "roles")

# A JWT header is small; refusing long input early keeps garbage off the parser.
MAX_TOKEN_CHARS = 8192
# A JWKS with a handful of keys is a few hundred bytes; more is not the auth service.
MAX_JWKS_BYTES = 65_536
# RFC 7638 thumbprints are 43 base64url characters; anything outside this alphabet and length is
# refused before it can reach a lookup, a log line or a fetch.
_KID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class AccessClaims(msgspec.Struct, frozen=True):
    sub: str
    name: str
    roles: tuple[str, ...]
    sid: str
    jti: str
    iat: int
    nbf: int
    exp: int


class TokenError(Exception):
    """The token is refused; ``str(error)`` says why and is safe to show to the client."""


class SigningKeysUnavailableError(TokenError):
    """The JWKS could not be fetched, so no verdict is possible; retrying later may succeed."""


class TokenRules:
    """Checks a token against one key: pinned algorithm, required claims, issuer, audience."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = ("EdDSA",),
        leeway_s: float = 10.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway_s = leeway_s

    def header_of(self, token: str) -> tuple[str, str]:
        """The token's ``(alg, kid)``, both checked before any key is looked up."""
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError("token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError as exc:
            raise TokenError("token is not a well-formed JWT") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise TokenError("token algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise TokenError("token has no valid key id (kid)")
        return alg, kid

    def claims_of(self, token: str, key: jwt.PyJWK) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except ExpiredSignatureError as exc:
            raise TokenError("token has expired") from exc
        except ImmatureSignatureError as exc:
            raise TokenError("token is not valid yet") from exc
        except InvalidAudienceError as exc:
            raise TokenError("token is for another audience") from exc
        except InvalidIssuerError as exc:
            raise TokenError("token is from another issuer") from exc
        except MissingRequiredClaimError as exc:
            raise TokenError(f"token lacks the {exc.claim!r} claim") from exc
        except (InvalidSignatureError, InvalidAlgorithmError) as exc:
            raise TokenError("token signature is invalid") from exc
        except InvalidTokenError as exc:
            raise TokenError("token is invalid") from exc
        if payload.get("typ") != "access":
            raise TokenError("token is not an access token")
        try:
            return msgspec.convert(payload, AccessClaims)
        except msgspec.ValidationError as exc:
            raise TokenError(f"token claims are malformed: {exc}") from exc


def keys_from_jwks(document: object, algorithms: Sequence[str]) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS by ``kid``; keys for other algorithms are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        key = _signing_key(entry, algorithms)
        if key is not None:
            keys[key[0]] = key[1]
    return keys


def _signing_key(entry: object, algorithms: Sequence[str]) -> tuple[str, jwt.PyJWK] | None:
    if not isinstance(entry, Mapping):
        return None
    kid, alg, use = entry.get("kid"), entry.get("alg"), entry.get("use", "sig")
    if not isinstance(kid, str) or not _KID.fullmatch(kid) or use != "sig":
        return None
    if alg is not None and alg not in algorithms:
        return None
    try:
        key = jwt.PyJWK(dict(entry), algorithm=alg)
    except (PyJWKError, InvalidTokenError, ValueError, TypeError):
        log.warning("skipping an unusable key in the JWKS", extra={"kid": kid})
        return None
    # One key, one algorithm (RFC 8725 3.1): a key whose type implies another is never used.
    if key.algorithm_name not in algorithms:
        return None
    return kid, key


class JwksVerifier:
    """Verifies access tokens with keys fetched from the auth service's JWKS and cached.

    An unknown ``kid`` (a rotation) fetches the JWKS again, at most once per
    ``min_refresh_interval_s`` so a flood of forged ``kid`` values cannot turn into a flood of
    fetches. Known keys are re-read after ``cache_ttl_s`` so a withdrawn key stops working.
    """

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str = "chat",
        algorithms: tuple[str, ...] = ("EdDSA",),
        leeway_s: float = 10.0,
        min_refresh_interval_s: float = 5.0,
        cache_ttl_s: float = 300.0,
        fetch_timeout_s: float = 3.0,
    ) -> None:
        # Pinning a symmetric algorithm would turn the public key into a shared secret.
        if not algorithms or any(alg.lower() == "none" or alg[:2] == "HS" for alg in algorithms):
            raise ValueError("algorithms must be asymmetric signature algorithms")
        self._url = jwks_url
        self._issuer = issuer
        self._rules = TokenRules(
            issuer=issuer, audience=audience, algorithms=algorithms, leeway_s=leeway_s
        )
        self._min_refresh_interval_s = min_refresh_interval_s
        self._cache_ttl_s = cache_ttl_s
        # Redirects would let whoever answers the URL send the verifier to another key source.
        self._client = httpx.AsyncClient(timeout=fetch_timeout_s, follow_redirects=False)
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._fetches = 0  # finished fetches, so a caller can tell one happened while it waited
        self._last_fetch_failed = False
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> AccessClaims:
        _, kid = self._rules.header_of(token)
        key = await self._key(kid)
        return self._rules.claims_of(token, key)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get((self._issuer, kid))
        if key is None or self._cache_is_old():
            await self._refresh()
            key = self._keys.get((self._issuer, kid))
        if key is not None:
            return key
        if self._last_fetch_failed:
            raise SigningKeysUnavailableError("signing keys are unavailable; try again shortly")
        raise TokenError("token is signed with an unknown key")

    def _cache_is_old(self) -> bool:
        return self._fetched_at is not None and (
            time.monotonic() - self._fetched_at >= self._cache_ttl_s
        )

    async def _refresh(self) -> None:
        seen = self._fetches
        async with self._lock:
            # A fetch made while this caller waited serves it too, however long the wait: under
            # a connection storm the waiters would otherwise fetch one after another.
            if self._fetches != seen or (
                self._fetched_at is not None
                and time.monotonic() - self._fetched_at < self._min_refresh_interval_s
            ):
                return
            self._fetched_at = time.monotonic()
            try:
                keys = keys_from_jwks(await self._fetch(), self._rules.algorithms)
            except (httpx.HTTPError, ValueError) as exc:
                # Known keys stay usable: an auth-service outage must not log everyone out.
                self._last_fetch_failed = True
                log.warning("JWKS fetch failed", extra={"url": self._url, "error": repr(exc)})
                return
            finally:
                self._fetches += 1
            self._last_fetch_failed = False
            self._keys = {(self._issuer, kid): key for kid, key in keys.items()}

    async def _fetch(self) -> Any:
        async with self._client.stream("GET", self._url) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"JWKS is larger than {MAX_JWKS_BYTES} bytes")
        try:
            return msgspec.json.decode(bytes(body))
        except msgspec.DecodeError as exc:
            raise ValueError(f"JWKS is not JSON: {exc}") from exc
