"""Request and response bodies of the auth API (docs/protocol.md), also the source of its
OpenAPI."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from chat_common.errors import ErrorCode

USERNAME_RULE = "3 to 32 characters of a-z, 0-9, _ . - (upper case is lowered)"
PASSWORD_RULE = "8 to 128 characters"  # noqa: S105 - a rule, not a password
_USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,32}")

Username = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_.-]{3,32}$", description=USERNAME_RULE)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128, description=PASSWORD_RULE)]
# Login takes any string: a name that could never be registered is just an unknown user.
LoginName = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
LoginPassword = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
OpaqueToken = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


def canonical_username(value: str) -> str | None:
    """The stored form of a username, or None when it breaks the rule.

    Checked as ASCII before lowering: ``str.lower`` maps some non-ASCII letters (the Kelvin
    sign) onto ASCII ones, which would let two spellings claim one account.
    """
    return value.lower() if _USERNAME.fullmatch(value) else None


class NewUser(msgspec.Struct, frozen=True):
    username: Username
    password: Password


class UserCreated(msgspec.Struct, frozen=True):
    id: Annotated[str, msgspec.Meta(extra_json_schema={"format": "uuid"})]
    username: str


class PasswordLogin(msgspec.Struct, frozen=True):
    username: LoginName
    password: LoginPassword
    # Browser mode: the refresh token goes into an HttpOnly cookie instead of the body.
    cookie: bool = False


class PasswordGrantForm(msgspec.Struct, frozen=True):
    """RFC 6749 section 4.3, as ``application/x-www-form-urlencoded``."""

    grant_type: Literal["password"]
    username: LoginName
    password: LoginPassword


class RefreshRequest(msgspec.Struct, frozen=True):
    refresh_token: OpaqueToken | None = None
    cookie: bool = False


class LogoutRequest(msgspec.Struct, frozen=True):
    refresh_token: OpaqueToken | None = None
    # Every session of the user; needs a Bearer access token.
    all: bool = False
    cookie: bool = False


class TokenPair(msgspec.Struct, frozen=True):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: Annotated[int, msgspec.Meta(ge=0, description="seconds")]
    # Absent in browser mode, where it travels in the HttpOnly cookie.
    refresh_token: str | msgspec.UnsetType = msgspec.UNSET


class Problem(msgspec.Struct, frozen=True):
    code: ErrorCode
    message: str


class Jwk(msgspec.Struct, frozen=True):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class Jwks(msgspec.Struct, frozen=True):
    keys: list[Jwk]


class Liveness(msgspec.Struct, frozen=True):
    status: Literal["ok"]


class Readiness(msgspec.Struct, frozen=True):
    status: Literal["ready", "unavailable"]
    # Each dependency's state by name; why one failed is in the service's log only.
    checks: dict[str, Literal["ok", "failed", "timed out"]]
