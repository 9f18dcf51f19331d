"""The gateways' internal route that turns processed images into an ``attachment`` event:
``POST /internal/v1/rooms/{room}/messages/{message_id}/attachments`` with the worker's token.

The gateway makes the event through the message path (numbered, durable in Kafka, fanned out)
and answers 200 once it is durable; the same call again makes no second event, so a call is
retried until it is answered. 404 says the message is unknown or deleted: nothing to announce.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Iterator, Sequence
from urllib.parse import quote

import httpx
import msgspec
from prometheus_client import Counter

from chat_common.envelope import Attachment

log = logging.getLogger(__name__)

# Answers that say the gateway, or what it needs (Redis, Kafka), is away for now; and the
# token refused (a deployment whose two sides disagree until one is fixed). Tried again.
_RETRIED = frozenset({401, 403, 408, 425, 429, 500, 502, 503, 504})


class Outcome(enum.Enum):
    ANNOUNCED = "announced"  # the event is durable
    GONE = "gone"  # 404: the message is unknown or deleted; nothing to announce
    REFUSED = "refused"  # the gateway refused the body; retrying cannot help
    STOPPED = "stopped"  # the worker is stopping; the record will be read again


class _Body(msgspec.Struct, frozen=True):
    attachments: Sequence[Attachment]


_encoder = msgspec.json.Encoder()


class GatewayClient:
    def __init__(self, http: httpx.AsyncClient, token: str, retries: Counter) -> None:
        self._http = http
        self._retries = retries
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def announce(
        self,
        room: str,
        message_id: str,
        attachments: Sequence[Attachment],
        delays: Iterator[float],
        stop: asyncio.Event,
    ) -> Outcome:
        path = (
            f"/internal/v1/rooms/{quote(room, safe=':')}"
            f"/messages/{quote(message_id, safe='')}/attachments"
        )
        body = _encoder.encode(_Body(attachments))
        while True:
            try:
                reply = await self._http.post(path, content=body, headers=self._headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if reply.status_code == 200:
                    return Outcome.ANNOUNCED
                if reply.status_code == 404:
                    return Outcome.GONE
                problem = f"{reply.status_code}: {reply.text[:300]}"
                if reply.status_code not in _RETRIED:
                    log.error(
                        "the gateway refused an attachment event",
                        extra={"room": room, "message_id": message_id, "answer": problem},
                    )
                    return Outcome.REFUSED
            if stop.is_set():
                return Outcome.STOPPED
            delay = next(delays)
            self._retries.inc()
            log.warning(
                "announcing processed images failed; retrying",
                extra={"room": room, "message_id": message_id, "error": problem[:300],
                       "retry_in_s": round(delay, 3)},
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return Outcome.STOPPED
