from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest

from auth_harness import ORIGIN, PASSWORD, register
from chat_common.tokens import JwksVerifier

REFRESH_COOKIE = "chat_refresh"
CSRF_COOKIE = "chat_csrf"


class Browser:
    """Keeps the cookies the way a browser would for the page at ORIGIN.

    The cookies are Secure and the test server speaks plain HTTP, so they are carried by hand.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.last_set: SimpleCookie = SimpleCookie()

    async def post(
        self, path: str, body: dict[str, object], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {"Origin": ORIGIN, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = await self.client.post(path, json=body, headers=sent)
        self.last_set = SimpleCookie()
        for line in response.headers.get_list("set-cookie"):
            self.last_set.load(line)
        for name, morsel in self.last_set.items():
            if morsel["max-age"] == "0":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value
        return response

    async def login(self, username: str) -> httpx.Response:
        return await self.post(
            "/v1/token", {"username": username, "password": PASSWORD, "cookie": True}
        )

    def csrf(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.cookies.get(CSRF_COOKIE, "")}


@pytest.fixture
async def browser(client: httpx.AsyncClient) -> Browser:
    browser = Browser(client)
    user = await register(client)
    assert (await browser.login(user["username"])).status_code == 200
    return browser


async def test_a_cookie_login_keeps_the_refresh_token_out_of_the_page(
    client: httpx.AsyncClient, verifier: JwksVerifier
) -> None:
    browser = Browser(client)
    user = await register(client)
    response = await browser.login(user["username"])
    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body
    assert (await verifier.verify(body["access_token"])).sub == user["id"]

    refresh_cookie = browser.last_set[REFRESH_COOKIE]
    assert refresh_cookie["httponly"]
    assert refresh_cookie["secure"]
    assert refresh_cookie["samesite"] == "strict"
    assert refresh_cookie["path"] == "/auth/v1"
    assert len(refresh_cookie.value) >= 43
    csrf_cookie = browser.last_set[CSRF_COOKIE]
    assert not csrf_cookie["httponly"]
    assert csrf_cookie["secure"]
    assert csrf_cookie["samesite"] == "strict"
    assert csrf_cookie["path"] == "/"


async def test_a_cookie_refresh_with_csrf_and_origin_rotates_the_cookies(
    browser: Browser,
) -> None:
    spent = browser.cookies[REFRESH_COOKIE]
    response = await browser.post("/v1/token/refresh", {"cookie": True}, browser.csrf())
    assert response.status_code == 200
    assert response.json()["access_token"]
    assert "refresh_token" not in response.json()
    assert browser.cookies[REFRESH_COOKIE] != spent
    again = await browser.post("/v1/token/refresh", {"cookie": True}, browser.csrf())
    assert again.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no X-CSRF-Token
        {"X-CSRF-Token": "guessed"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
async def test_a_cookie_refresh_without_csrf_proof_is_forbidden(
    browser: Browser, headers: dict[str, str]
) -> None:
    sent = {**browser.csrf(), **headers} if "Origin" in headers else headers
    response = await browser.post("/v1/token/refresh", {"cookie": True}, sent)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    # Nothing was spent: the real page can still refresh.
    ok = await browser.post("/v1/token/refresh", {"cookie": True}, browser.csrf())
    assert ok.status_code == 200


async def test_a_cookie_refresh_without_an_origin_is_forbidden(browser: Browser) -> None:
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    response = await browser.client.post(
        "/v1/token/refresh", json={"cookie": True}, headers={"Cookie": cookie, **browser.csrf()}
    )
    assert response.status_code == 403


async def test_a_planted_csrf_cookie_does_not_match_the_session(browser: Browser) -> None:
    # A sibling site can set a cookie; it cannot compute the value bound to the refresh token.
    browser.cookies[CSRF_COOKIE] = "planted-by-a-sibling-site"
    response = await browser.post(
        "/v1/token/refresh", {"cookie": True}, {"X-CSRF-Token": "planted-by-a-sibling-site"}
    )
    assert response.status_code == 403
    assert "does not belong" in response.json()["message"]


async def test_a_cookie_login_from_a_foreign_origin_is_forbidden(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    response = await client.post(
        "/v1/token",
        json={"username": user["username"], "password": PASSWORD, "cookie": True},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_a_cookie_logout_ends_the_session_and_clears_the_cookies(browser: Browser) -> None:
    refresh_token = browser.cookies[REFRESH_COOKIE]
    csrf = browser.csrf()
    response = await browser.post("/v1/logout", {"cookie": True}, csrf)
    assert response.status_code == 204
    assert browser.last_set[REFRESH_COOKIE]["max-age"] == "0"
    assert browser.last_set[CSRF_COOKIE]["max-age"] == "0"
    assert browser.cookies == {}
    browser.cookies = {REFRESH_COOKIE: refresh_token, CSRF_COOKIE: csrf["X-CSRF-Token"]}
    after = await browser.post("/v1/token/refresh", {"cookie": True}, csrf)
    assert after.status_code == 401


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
async def test_a_form_login_from_a_foreign_page_is_forbidden(
    client: httpx.AsyncClient, origin: str
) -> None:
    # A form post is a CORS simple request: any page can make its visitors' browsers send it,
    # guessing passwords from thousands of addresses. Browsers name the page in Origin.
    user = await register(client)
    form = {"grant_type": "password", "username": user["username"], "password": PASSWORD}
    response = await client.post("/v1/token", data=form, headers={"Origin": origin})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "access_token" not in response.text


async def test_a_form_login_from_our_page_or_from_no_browser_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    form = {"grant_type": "password", "username": user["username"], "password": PASSWORD}
    from_page = await client.post("/v1/token", data=form, headers={"Origin": ORIGIN})
    assert from_page.status_code == 200
    # OAuth clients that are not browsers send no Origin.
    without_origin = await client.post("/v1/token", data=form)
    assert without_origin.status_code == 200
