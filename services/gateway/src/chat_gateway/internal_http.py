"""Routes for the deployment's own services, never for people: the balancer and the Ingress do
not route ``/internal/``, and a shared token guards them besides.

``POST /internal/v1/rooms/{room}/messages/{message_id}/attachments``: the media step reports a
message's processed files (dimensions, a thumbnail, an image it could not decode), which
become an ``attachment`` event on the message path (docs/gateway.md, "Attachments").
"""

from __future__ import annotations

import hmac

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat_common.envelope import MAX_ATTACHMENTS, Attachments
from chat_common.errors import ChatError, ErrorCode
from chat_gateway.context import GatewayContext
from chat_gateway.protocol import MessageId
from chat_gateway.rooms_http import decode_body, json_response, path_param, room_of

# The largest body a valid update can have: every attachment with a 255-character name of
# 4-byte characters is under 1.5 KiB of JSON.
_MAX_BODY_BYTES = MAX_ATTACHMENTS * 2048


class AttachmentUpdate(msgspec.Struct, forbid_unknown_fields=True):
    attachments: Attachments


def internal_routes() -> list[Route]:
    return [
        Route(
            "/internal/v1/rooms/{room}/messages/{message_id}/attachments",
            update_attachments,
            methods=["POST"],
        )
    ]


async def update_attachments(request: Request) -> Response:
    """200 with the ``attachment`` event once it is durable; the same update again answers the
    same event."""
    ctx: GatewayContext = request.app.state.ctx
    _check_token(request, ctx.settings.internal_token)
    room = room_of(request)
    message_id = path_param(request, "message_id", MessageId)
    body = await decode_body(request, AttachmentUpdate, _MAX_BODY_BYTES)
    sent = await ctx.sender.update_attachments(room, message_id, body.attachments)
    return json_response({"message": sent.message})


def _check_token(request: Request, token: str) -> None:
    if not token:  # no token configured: the route is not there
        raise ChatError(ErrorCode.NOT_FOUND, "not found")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compared in constant time, so the time of a refusal tells nothing of the token.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ChatError(ErrorCode.UNAUTHORIZED, "the internal token is required")
