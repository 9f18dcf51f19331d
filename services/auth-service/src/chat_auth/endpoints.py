"""The auth API's handlers (docs/protocol.md, auth service).

Each handler turns a request into calls on the stores; refusals are raised as ``ChatError`` and
rendered in one place (``bodies.problem_response``).
"""

from __future__ import annotations

import logging
import uuid
from typing import cast

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat_auth.accounts import Account, UsernameTakenError
from chat_auth.bodies import (
    ApiError,
    decode_form,
    decode_json,
    media_type,
    problem_response,
    read_body,
    require_json,
)
from chat_auth.context import AuthContext
from chat_auth.schemas import (
    PASSWORD_RULE,
    USERNAME_RULE,
    LogoutRequest,
    NewUser,
    PasswordGrantForm,
    PasswordLogin,
    RefreshRequest,
    TokenPair,
    UserCreated,
    canonical_username,
)
from chat_auth.sessions import RefreshRefusedError, Refusal, SessionGrant
from chat_auth.throttle import ThrottledError
from chat_common.errors import ChatError, ErrorCode
from chat_common.revocation import is_revoked
from chat_common.tokens import AccessClaims, TokenError

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
_NEW_USER_RULES = {"username": USERNAME_RULE, "password": PASSWORD_RULE}
_encoder = msgspec.json.Encoder()


def _context(request: Request) -> AuthContext:
    return cast(AuthContext, request.app.state.auth)


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(body), status, headers, media_type="application/json")


async def register(request: Request) -> Response:
    ctx = _context(request)
    require_json(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    new_user = decode_json(body, NewUser, _NEW_USER_RULES)
    username = canonical_username(new_user.username)
    if username is None:
        raise ChatError(ErrorCode.BAD_REQUEST, f"username must be {USERNAME_RULE}")
    with ctx.vault.admission():
        try:
            await ctx.registrations.count(_client_ip(request))
        except ThrottledError as exc:
            ctx.metrics.registrations.labels("throttled").inc()
            raise _rate_limited(exc) from exc
        # Checked before the costly hash; the insert still refuses a name taken meanwhile.
        if await ctx.accounts.exists(username):
            raise _taken(ctx, UsernameTakenError(username))
        password_hash = await ctx.vault.hash(new_user.password)
        try:
            account = await ctx.accounts.create(username, password_hash)
        except UsernameTakenError as exc:
            raise _taken(ctx, exc) from exc
    ctx.metrics.registrations.labels("created").inc()
    return _json(UserCreated(id=str(account.id), username=account.username), 201)


async def issue_tokens(request: Request) -> Response:
    ctx = _context(request)
    login = await _password_login(request, ctx)
    # Only our own pages may log in from a browser; cookie mode is for browsers only.
    ctx.cookies.check_origin(request, required=login.cookie)
    with ctx.vault.admission():
        account = await _authenticate(ctx, login, _client_ip(request))
    grant = await ctx.sessions.start(account)
    ctx.metrics.logins.labels("ok").inc()
    return await _token_response(ctx, grant, "password", cookie=login.cookie)


async def refresh_tokens(request: Request) -> Response:
    ctx = _context(request)
    require_json(request)
    asked = decode_json(await read_body(request, ctx.settings.max_body_bytes), RefreshRequest)
    if asked.cookie == (asked.refresh_token is not None):
        raise ChatError(
            ErrorCode.BAD_REQUEST, "send either refresh_token or cookie: true (browser mode)"
        )
    refresh_token = (
        ctx.cookies.refresh_token_of(request) if asked.cookie else cast(str, asked.refresh_token)
    )
    try:
        grant = await ctx.sessions.rotate(refresh_token)
    except RefreshRefusedError as exc:
        ctx.metrics.refresh_refused.labels(exc.refusal.name.lower()).inc()
        owner, sid = exc.user_id, exc.session_id
        if exc.refusal is Refusal.REUSED and owner is not None and sid is not None:
            ctx.metrics.refresh_reuse.inc()
            log.warning(
                "spent refresh token presented again; revoking its session",
                extra={"user_id": str(owner), "sid": str(sid)},
            )
            await ctx.revoker.session_ended(owner, sid, "refresh token reuse")
        return _refused(ctx, ApiError(ErrorCode.UNAUTHORIZED, str(exc)), cookie=asked.cookie)
    return await _token_response(ctx, grant, "refresh", cookie=asked.cookie)


async def logout(request: Request) -> Response:
    ctx = _context(request)
    require_json(request)
    asked = decode_json(await read_body(request, ctx.settings.max_body_bytes), LogoutRequest)
    if [asked.all, asked.cookie, asked.refresh_token is not None].count(True) != 1:
        raise ChatError(
            ErrorCode.BAD_REQUEST,
            "send exactly one of refresh_token, all: true (with a Bearer access token),"
            " or cookie: true (browser mode)",
        )
    if asked.all:
        claims = await _bearer_claims(ctx, request)
        user_id = uuid.UUID(claims.sub)
        sids = await ctx.sessions.revoke_all(user_id, "logout everywhere")
        await ctx.revoker.user_logged_out(user_id, sids, "logout everywhere")
        return Response(status_code=204)
    refresh_token = (
        ctx.cookies.refresh_token_of(request) if asked.cookie else cast(str, asked.refresh_token)
    )
    ended = await ctx.sessions.end(refresh_token, "logout")
    if ended is None:
        refusal = ApiError(ErrorCode.UNAUTHORIZED, Refusal.UNKNOWN.value)
        return _refused(ctx, refusal, cookie=asked.cookie)
    # Published again on a repeated logout: a retry after Redis failed must still reach gateways.
    await ctx.revoker.session_ended(ended.user_id, ended.session_id, "logout")
    response = Response(status_code=204)
    if asked.cookie:
        ctx.cookies.clear_cookies(response)
    return response


async def jwks(request: Request) -> Response:
    # Short caching: a rotation publishes the new key before it signs (docs/auth-service.md).
    return JSONResponse(
        _context(request).keys.jwks(), headers={"Cache-Control": "public, max-age=60"}
    )


async def _password_login(request: Request, ctx: AuthContext) -> PasswordLogin:
    body = await read_body(request, ctx.settings.max_body_bytes)
    if media_type(request) == FORM:
        form = decode_form(body, PasswordGrantForm)
        return PasswordLogin(username=form.username, password=form.password)
    require_json(request)
    return decode_json(body, PasswordLogin)


async def _authenticate(ctx: AuthContext, login: PasswordLogin, client_ip: str) -> Account:
    username = canonical_username(login.username)
    try:
        attempt = await ctx.throttle.begin(username or login.username, client_ip)
    except ThrottledError as exc:
        ctx.metrics.logins.labels("paced" if exc.paced else "throttled").inc()
        raise _rate_limited(exc) from exc
    # An unknown user takes the same path as a wrong password: one Argon2 check, one answer.
    account = await ctx.accounts.find(username) if username is not None else None
    matches = await ctx.vault.verify(
        account.password_hash if account is not None else None, login.password
    )
    if account is None or not matches:
        ctx.metrics.logins.labels("bad_credentials").inc()
        raise ChatError(ErrorCode.UNAUTHORIZED, "wrong username or password")
    await ctx.throttle.succeeded(attempt)
    await _upgrade_hash(ctx, account, login.password)
    return account


async def _upgrade_hash(ctx: AuthContext, account: Account, password: str) -> None:
    # Raised Argon2 parameters reach each stored hash at its owner's next login.
    if ctx.vault.needs_rehash(account.password_hash):
        await ctx.accounts.replace_hash(account, await ctx.vault.hash(password))


def _rate_limited(exc: ThrottledError) -> ApiError:
    headers = {"Retry-After": str(exc.retry_after_s)}
    return ApiError(ErrorCode.RATE_LIMITED, str(exc), headers=headers)


def _taken(ctx: AuthContext, exc: UsernameTakenError) -> ApiError:
    ctx.metrics.registrations.labels("taken").inc()
    return ApiError(ErrorCode.BAD_REQUEST, str(exc), status=409)


async def _token_response(
    ctx: AuthContext, grant: SessionGrant, kind: str, *, cookie: bool
) -> Response:
    access_token, expires_in = await ctx.issuer.issue(grant)
    ctx.metrics.tokens_issued.labels(kind).inc()
    pair = TokenPair(
        access_token=access_token,
        token_type="bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=expires_in,
        refresh_token=msgspec.UNSET if cookie else grant.refresh_token,
    )
    # RFC 6749 5.1: token responses must not be cached.
    response = _json(pair, headers={"Cache-Control": "no-store"})
    if cookie:
        ctx.cookies.set_cookies(response, grant.refresh_token)
    return response


def _refused(ctx: AuthContext, error: ApiError, *, cookie: bool) -> Response:
    response = problem_response(error)
    if cookie:
        # The cookies name a session that is gone; the page should look signed out.
        ctx.cookies.clear_cookies(response)
    return response


async def _bearer_claims(ctx: AuthContext, request: Request) -> AccessClaims:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            ErrorCode.UNAUTHORIZED,
            "logging out every session needs a Bearer access token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        _, kid = ctx.token_rules.header_of(token)
        key = ctx.keys.verification_key(kid)
        if key is None:
            raise TokenError("token is signed with an unknown key")
        claims = ctx.token_rules.claims_of(token, key)
        uuid.UUID(claims.sub)
    except (TokenError, ValueError) as exc:
        raise ApiError(
            ErrorCode.UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    # A token of an ended session must not end the sessions that remain.
    if await is_revoked(ctx.redis, claims):
        raise ApiError(ErrorCode.UNAUTHORIZED, "the session of this access token has ended")
    return claims


def _client_ip(request: Request) -> str:
    # uvicorn puts the X-Forwarded-For address here only for the trusted proxies in settings.
    return request.client.host if request.client is not None else "unknown"
