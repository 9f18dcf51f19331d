"""Browser mode: the refresh token in an HttpOnly cookie, guarded against cross-site requests.

A cookie is sent by the browser whoever made the page, so a cookie-based request must also show
it comes from our own page: an allowed ``Origin`` and an ``X-CSRF-Token`` header equal to the
readable CSRF cookie (double submit). A login is checked too whenever a browser names the page
that sent it: a form post needs no CORS preflight, so without the check any site could make its
visitors' browsers guess passwords for it. The CSRF value is derived from the refresh token, so a
cookie planted by a sibling site cannot be paired with a header of the attacker's choosing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

from chat_auth.bodies import ApiError
from chat_common.errors import ErrorCode

CSRF_HEADER = "x-csrf-token"


def csrf_value(refresh_token: str) -> str:
    digest = hashlib.sha256(b"chat-csrf\x00" + refresh_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _forbidden(message: str) -> ApiError:
    return ApiError(ErrorCode.FORBIDDEN, message)


class BrowserCookies:
    def __init__(
        self,
        *,
        allowed_origins: tuple[str, ...],
        cookie_path: str,
        refresh_cookie: str,
        csrf_cookie: str,
        max_age_s: int,
    ) -> None:
        self._origins = frozenset(allowed_origins)
        self._path = cookie_path
        self._refresh_cookie = refresh_cookie
        self._csrf_cookie = csrf_cookie
        self._max_age_s = max_age_s

    def check_origin(self, request: Request, *, required: bool = True) -> None:
        """Refuse a foreign ``Origin``; a missing one only when ``required`` (browser mode).

        Browsers send Origin with every cross-origin POST; clients that are not browsers
        send none.
        """
        origin = request.headers.get("origin")
        if origin is None:
            if required:
                raise _forbidden("browser mode needs an Origin header")
            return
        if origin not in self._origins:
            raise _forbidden("this Origin is not allowed")

    def refresh_token_of(self, request: Request) -> str:
        """The refresh token of a cookie-based request that passed the cross-site checks."""
        self.check_origin(request)
        header = request.headers.get(CSRF_HEADER, "")
        cookie = request.cookies.get(self._csrf_cookie, "")
        if not header or not hmac.compare_digest(header.encode(), cookie.encode()):
            raise _forbidden("the X-CSRF-Token header must equal the CSRF cookie")
        refresh_token = request.cookies.get(self._refresh_cookie)
        if not refresh_token:
            raise ApiError(ErrorCode.UNAUTHORIZED, "no refresh cookie; log in again")
        if not hmac.compare_digest(header.encode(), csrf_value(refresh_token).encode()):
            raise _forbidden("the CSRF token does not belong to this session")
        return refresh_token

    def set_cookies(self, response: Response, refresh_token: str) -> None:
        response.set_cookie(
            self._refresh_cookie,
            refresh_token,
            max_age=self._max_age_s,
            path=self._path,
            secure=True,
            httponly=True,
            samesite="strict",
        )
        # Path "/": the page reads it with document.cookie from wherever it is.
        response.set_cookie(
            self._csrf_cookie,
            csrf_value(refresh_token),
            max_age=self._max_age_s,
            path="/",
            secure=True,
            httponly=False,
            samesite="strict",
        )

    def clear_cookies(self, response: Response) -> None:
        response.delete_cookie(
            self._refresh_cookie, path=self._path, secure=True, httponly=True, samesite="strict"
        )
        response.delete_cookie(self._csrf_cookie, path="/", secure=True, samesite="strict")
