"""Media worker settings, read from ``CHAT_MEDIA_*`` variables and validated at start-up; the
object store's from ``CHAT_OBJECT_STORE_*`` (shared with the gateway)."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import msgspec

from chat_common.settings import (
    LOCAL_DATABASE_URL,
    LOCAL_KAFKA_BOOTSTRAP,
    NonEmptyStr,
    Port,
    PositiveFloat,
    PositiveInt,
    ServiceSettings,
    load_settings,
)

PREFIX = "CHAT_MEDIA_"

# The broker refuses sessions below its group.min.session.timeout.ms (6 s by default).
SessionTimeoutMs = Annotated[int, msgspec.Meta(ge=6_000)]
# Encoder quality as Pillow takes it: 1 (smallest) to 95 (above that JPEG only grows).
Quality = Annotated[int, msgspec.Meta(ge=1, le=95)]
# A thumbnail side: WebP encodes at most 16,383 pixels a side.
ThumbnailSide = Annotated[int, msgspec.Meta(ge=16, le=16_383)]
# Each is a process decoding one image; more than a few per worker only queues on its cores.
ConcurrentImages = Annotated[int, msgspec.Meta(ge=1, le=64)]


class MediaSettings(ServiceSettings, frozen=True, kw_only=True):
    kafka_bootstrap: NonEmptyStr = LOCAL_KAFKA_BOOTSTRAP
    topic: NonEmptyStr = "chat.messages"
    # A group of its own: it reads every record of the topic beside the persistence worker,
    # at its own pace, with its own offsets.
    group_id: NonEmptyStr = "chat-media"
    # Names this process to the broker and in logs; unique per worker.
    client_id: NonEmptyStr = f"chat-media-{socket.gethostname()}-{os.getpid()}"
    # Records per poll. Almost all records are plain messages, read and passed over at once;
    # one poll's offsets are committed once all of its images are announced, so a poll holding
    # many images delays the commit of the others. 500 is aiokafka's default.
    poll_max_records: PositiveInt = 500
    # How long an idle poll waits for records; also how soon an idle worker notices SIGTERM.
    poll_max_wait_ms: PositiveInt = 500
    session_timeout_ms: SessionTimeoutMs = 10_000
    heartbeat_interval_ms: PositiveInt = 3_000

    database_url: NonEmptyStr = LOCAL_DATABASE_URL
    # Statements are single-row updates and small scans; one slower than this means Postgres is
    # in trouble, and the work is retried.
    database_timeout_s: PositiveFloat = 10.0
    # Postgres connections per worker. Its statements are single-row updates and short scans,
    # a few per image against the hundreds of milliseconds an image takes to decode, so one
    # connection, taken in turn by the partitions, the sweep and /readyz, keeps up; and every
    # worker's connections at the HPA maximum count against the pooler (docs/operations.md).
    database_pool_size: PositiveInt = 1

    # The gateways' internal route that turns a processed image into an ``attachment`` event.
    # Locally the first gateway's HTTP port; in a cluster the gateway Service.
    gateway_url: NonEmptyStr = "http://127.0.0.1:8101"
    # The gateways' CHAT_GATEWAY_INTERNAL_TOKEN. No default: a gateway without one answers
    # every call 404, and a worker that cannot announce its work should say so at start.
    internal_token: NonEmptyStr
    # A call answers once the event is durable in Kafka (acks=all): a second or two at worst.
    # Beyond this the gateway is taken as unavailable and the call is retried.
    gateway_timeout_s: PositiveFloat = 10.0

    # Thumbnails fit in a square of this side: twice the 240 CSS pixels the timeline shows an
    # image at, so it is sharp on a high-density screen; a 480-pixel WebP is 20-60 kB.
    thumbnail_side: ThumbnailSide = 480
    # An image with more pixels (all frames of an animation together) is not decoded but shown
    # as a file: the decompression-bomb guard. Decoding takes 3-4 bytes a pixel and the
    # re-encode a copy or two, so 50 megapixels (a 50 MP camera's full-resolution photo, well
    # above a phone's usual 12) peaks at some 700 MB per image being decoded (bench_images.py).
    max_image_pixels: PositiveInt = 50_000_000
    # An animation with more frames is shown as a file: every frame is held while it is
    # re-encoded, and frames cost a Python object each however small they are.
    max_animation_frames: PositiveInt = 1_000
    # Images decoded at once, each in a process of its own: decoding is CPU-bound, so one per
    # core the worker is given (a pod is given one); more only queue and multiply the memory
    # above.
    max_concurrent_images: ConcurrentImages = 1
    # Encoder quality of the re-encoded originals (JPEG, WebP) and of thumbnails (WebP): 85
    # is indistinguishable from the source for photos at a fraction of 95's size.
    jpeg_quality: Quality = 85
    webp_quality: Quality = 80

    # How long the worker waits for the persistence worker to store a message before it
    # announces its images or deletes its files: it is seconds behind at worst when healthy.
    # Bounded below Kafka's max.poll.interval.ms (5 min), past which the worker would leave
    # its group; a delete given up here is done by the sweep later.
    stored_wait_s: PositiveFloat = 60.0
    # Capped exponential backoff while the gateway, Postgres or the store are unavailable: the
    # first retry comes quickly for a blip, the cap keeps a recovered one from waiting long.
    retry_initial_ms: PositiveInt = 200
    retry_max_ms: PositiveInt = 10_000

    # An upload never attached to a message is removed (object and row) after this long: the
    # presigned PUT lives minutes, and a person may take a while to press send.
    orphan_age_s: PositiveInt = 24 * 3600
    # An upload claimed by a send whose message was never stored is removed after this long:
    # Kafka's retention (7 days, log.retention.hours), after which the message cannot be
    # stored any more.
    claimed_orphan_age_s: PositiveInt = 7 * 24 * 3600
    # An object under originals/ or thumbnails/ with no live upload row is removed once it is
    # this old: a row is always made before its upload URL is handed out, so an object that
    # old without one is left over from a crash between a row's deletion and its object's.
    stray_object_age_s: PositiveInt = 24 * 3600
    # How often the sweep runs; it removes at most sweep_batch uploads of each kind a round.
    sweep_interval_s: PositiveFloat = 3600.0
    sweep_batch: PositiveInt = 1_000

    # Metrics, /healthz and /readyz; containers set the host to 0.0.0.0.
    host: NonEmptyStr = "127.0.0.1"
    port: Port = 8400

    def __post_init__(self) -> None:
        # msgspec reports these as validation errors of the whole configuration.
        if self.retry_max_ms < self.retry_initial_ms:
            raise ValueError(f"{PREFIX}RETRY_MAX_MS must be at least {PREFIX}RETRY_INITIAL_MS")
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError(
                f"{PREFIX}HEARTBEAT_INTERVAL_MS must be below {PREFIX}SESSION_TIMEOUT_MS"
            )
        if self.claimed_orphan_age_s < self.orphan_age_s:
            raise ValueError(f"{PREFIX}CLAIMED_ORPHAN_AGE_S must be at least {PREFIX}ORPHAN_AGE_S")


def load_media_settings() -> MediaSettings:
    return load_settings(MediaSettings, PREFIX)
