"""Reading request bodies (bounded, JSON or form) and writing errors as JSON problems.

Every refusal leaves as ``{"code": <ErrorCode>, "message": "..."}`` with the status of its code,
except where docs/protocol.md names another status (409 for a taken username).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chat_common.errors import ChatError, ErrorCode

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


class ApiError(ChatError):
    """A ``ChatError`` with an HTTP status or headers of its own."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code, message)
        self._status = status
        self.headers = dict(headers or {})

    @property
    def http_status(self) -> int:
        return self._status if self._status is not None else super().http_status


def problem_response(exc: ChatError) -> Response:
    headers = exc.headers if isinstance(exc, ApiError) else {}
    body = _encoder.encode({"code": exc.code, "message": exc.message})
    return Response(body, exc.http_status, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ChatError(ErrorCode.TOO_LARGE, f"request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ChatError(ErrorCode.TOO_LARGE, f"request body is larger than {limit} bytes")
    return bytes(body)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def decode_json(body: bytes, kind: type[T], rules: Mapping[str, str] | None = None) -> T:
    """``rules`` maps a field name to the sentence that explains what it must be."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, _explain(exc, rules or {})) from exc
    except msgspec.DecodeError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, f"request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        # msgspec skips an unknown field's value recursively and stops, cleanly, at Python's
        # recursion limit (about 1,000 levels); no body of this API nests more than one.
        raise ChatError(ErrorCode.BAD_REQUEST, "request body is nested too deeply") from exc


def decode_form(body: bytes, kind: type[T]) -> T:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, "form body is not UTF-8") from exc
    fields = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, _explain(exc, {})) from exc


def require_json(request: Request) -> None:
    kind = media_type(request)
    if kind != "application/json" and not kind.endswith("+json"):
        raise ChatError(
            ErrorCode.BAD_REQUEST, "the body must be JSON (Content-Type: application/json)"
        )


def _explain(exc: msgspec.ValidationError, rules: Mapping[str, str]) -> str:
    # msgspec ends its message with " - at `$.field`"; a known field gets its plain rule.
    message = str(exc)
    _, sep, path = message.rpartition(" - at `$.")
    field = path.rstrip("`").split("[", 1)[0].split(".", 1)[0] if sep else ""
    if field in rules:
        return f"{field} must be {rules[field]}"
    return f"invalid request body: {message}"
