"""The service's OpenAPI 3.1 document, built from the same Structs that decode and encode bodies."""

from __future__ import annotations

from typing import Any

import msgspec

from chat_auth.schemas import (
    Jwks,
    Liveness,
    LogoutRequest,
    NewUser,
    PasswordGrantForm,
    PasswordLogin,
    Problem,
    Readiness,
    RefreshRequest,
    TokenPair,
    UserCreated,
)
from chat_auth.settings import AuthSettings

_REF = "#/components/schemas/{name}"
_SCHEMA_TYPES = (
    NewUser,
    UserCreated,
    PasswordLogin,
    PasswordGrantForm,
    RefreshRequest,
    LogoutRequest,
    TokenPair,
    Problem,
    Jwks,
    Liveness,
    Readiness,
)


def _ref(kind: type) -> dict[str, str]:
    return {"$ref": _REF.format(name=kind.__name__)}


def _json(kind: type, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(kind)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _problems(*statuses: int) -> dict[str, Any]:
    meaning = {
        401: "not authenticated (bad credentials, or an invalid, spent or revoked token)",
        403: "a foreign Origin; in browser mode also a missing Origin, or an X-CSRF-Token"
        " unequal to the CSRF cookie",
        409: "the username is taken",
        413: "the request body is too large",
        422: "invalid input; the message says which rule",
        429: "too many attempts (failed logins of this username from this address or from"
        " this address, the username's paced turn not yet come, registrations from this"
        " address); Retry-After says when to try again",
        503: "a dependency (Postgres or Redis) is unavailable, or the server is too busy checking"
        " passwords (then with Retry-After); safe to retry",
    }

    def retry_after(required: bool) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": 1}
        description = "seconds to wait before trying again"
        return {"Retry-After": {"description": description, "required": required, "schema": schema}}

    headers = {429: retry_after(True), 503: retry_after(False)}
    return {
        str(status): _json(Problem, meaning[status], headers.get(status)) for status in statuses
    }


def _body(kind: type, form: type | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ref(kind)}}
    if form is not None:
        content["application/x-www-form-urlencoded"] = {"schema": _ref(form)}
    return {"required": True, "content": content}


def _browser_parameters(settings: AuthSettings) -> list[dict[str, Any]]:
    return [
        {"name": "Origin", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "X-CSRF-Token", "in": "header", "required": False, "schema": {"type": "string"}},
        {
            "name": settings.refresh_cookie_name,
            "in": "cookie",
            "required": False,
            "schema": {"type": "string"},
        },
        {
            "name": settings.csrf_cookie_name,
            "in": "cookie",
            "required": False,
            "schema": {"type": "string"},
        },
    ]


def _one_mode(modes: dict[str, Any]) -> list[dict[str, Any]]:
    """``oneOf`` alternatives: each sets its own field and leaves the others off."""
    alternatives = []
    for field, value_schema in modes.items():
        others = {
            other: {"type": "null"} if other == "refresh_token" else {"const": False}
            for other in modes
            if other != field
        }
        alternatives.append({"required": [field], "properties": {field: value_schema, **others}})
    return alternatives


def openapi_document(settings: AuthSettings) -> dict[str, Any]:
    _, components = msgspec.json.schema_components(_SCHEMA_TYPES, ref_template=_REF)
    # The handlers accept exactly one way of naming the session; say so in the schema too.
    token = {"type": "string"}
    components["RefreshRequest"]["oneOf"] = _one_mode(
        {"refresh_token": token, "cookie": {"const": True}}
    )
    components["LogoutRequest"]["oneOf"] = _one_mode(
        {"refresh_token": token, "all": {"const": True}, "cookie": {"const": True}}
    )
    tokens = _json(TokenPair, "a new access token, and a refresh token (in the body or cookie)")
    browser = _browser_parameters(settings)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chat auth service",
            "version": "1",
            "description": "Registration, password login, access and refresh tokens, JWKS. "
            "Behind the balancer every path is under /auth. See docs/auth-service.md.",
        },
        "paths": {
            "/v1/users": {
                "post": {
                    "operationId": "register",
                    "summary": "Register a user",
                    "requestBody": _body(NewUser),
                    "responses": {
                        "201": _json(UserCreated, "the user was created"),
                        **_problems(409, 413, 422, 429, 503),
                    },
                }
            },
            "/v1/token": {
                "post": {
                    "operationId": "login",
                    "summary": "Log in with username and password",
                    "parameters": browser[:1],
                    "requestBody": _body(PasswordLogin, PasswordGrantForm),
                    "responses": {"200": tokens, **_problems(401, 403, 413, 422, 429, 503)},
                }
            },
            "/v1/token/refresh": {
                "post": {
                    "operationId": "refresh",
                    "summary": "Spend a refresh token for a new pair",
                    "parameters": browser,
                    "requestBody": _body(RefreshRequest),
                    "responses": {"200": tokens, **_problems(401, 403, 413, 422, 503)},
                }
            },
            "/v1/logout": {
                "post": {
                    "operationId": "logout",
                    "summary": "End one session, or every session of the user",
                    "parameters": browser,
                    "security": [{}, {"bearer": []}],
                    "requestBody": _body(LogoutRequest),
                    "responses": {
                        "204": {"description": "the session(s) ended"},
                        **_problems(401, 403, 413, 422, 503),
                    },
                }
            },
            "/.well-known/jwks.json": {
                "get": {
                    "operationId": "jwks",
                    "summary": "Public keys that verify access tokens (current and previous)",
                    "responses": {"200": _json(Jwks, "the JSON Web Key Set")},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "liveness",
                    "responses": {"200": _json(Liveness, "the process serves requests")},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readiness",
                    "responses": {
                        "200": _json(Readiness, "Postgres and Redis answer"),
                        "503": _json(Readiness, "a dependency does not answer"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
