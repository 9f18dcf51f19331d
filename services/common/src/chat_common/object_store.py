"""The attachments' object store: any S3-compatible endpoint (SeaweedFS locally), by settings.

File bytes never pass through a service's event loop. A client uploads straight to the store
with a short-lived presigned PUT whose signature covers the object's size and content type, so
the store itself refuses an upload of another size or type; the service then checks what
arrived (``head``, ``first_bytes`` to sniff the type; ``get`` reads a whole object for the
media worker) and hands out presigned GETs that name the
file for the browser (``content_disposition``). ``put`` and ``delete`` serve what the services
write themselves (thumbnails) and clean-up; ``older_than`` finds objects an upload left behind.

Settings are read with the prefix ``CHAT_OBJECT_STORE_`` (``load_settings``): the gateway and
the worker use the same store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import msgspec
from aiobotocore.config import AioConfig
from aiobotocore.session import ClientCreatorContext, get_session
from botocore.exceptions import ClientError

from chat_common.settings import NonEmptyStr, PositiveFloat, PositiveInt

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

SETTINGS_PREFIX = "CHAT_OBJECT_STORE_"


class ObjectStoreSettings(msgspec.Struct, frozen=True, kw_only=True):
    # Where the services reach the store. Locally deploy/local/seaweedfs.sh's S3 gateway.
    endpoint_url: NonEmptyStr = "http://127.0.0.1:8333"
    # Where browsers reach it: presigned URLs are signed for this host. Empty: endpoint_url,
    # right when both are the same address (locally); in a cluster the store's public name.
    public_endpoint_url: str = ""
    # SigV4 signs the region; SeaweedFS accepts any, AWS needs the bucket's own.
    region: NonEmptyStr = "us-east-1"
    bucket: NonEmptyStr = "chat-attachments"
    # No default: the store refuses anonymous writes, and a missing key should say so at start.
    access_key_id: NonEmptyStr
    secret_access_key: NonEmptyStr
    # Path-style URLs (endpoint/bucket/key) need no DNS name per bucket, which self-hosted
    # stores rarely have; AWS S3 takes both styles.
    path_style: bool = True
    # A store that does not accept a connection within 5 s is down for this request; reads of
    # small objects (first bytes, thumbnails) finish well within 30 s even on a busy store.
    connect_timeout_s: PositiveFloat = 5.0
    read_timeout_s: PositiveFloat = 30.0
    # Connections kept to the store per process: HEADs and small reads are short, so 20 serve
    # hundreds of uploads a second without queueing.
    max_connections: PositiveInt = 20


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    """What a client needs to upload one object: PUT the bytes to ``url`` with exactly these
    ``headers``; any other size or type fails the store's signature check."""

    url: str
    headers: dict[str, str]
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    content_type: str
    last_modified: dt.datetime


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """An RFC 6266 Content-Disposition naming ``filename``: an ASCII fallback for old clients
    and the exact UTF-8 name in ``filename*``. Quotes, backslashes and control characters never
    reach the header."""
    kind = "inline" if inline else "attachment"
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in filename).strip()
    return f"{kind}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(filename, safe='')}"


class ObjectStore:
    """One bucket of an S3-compatible store. Open it with ``open_object_store``."""

    def __init__(self, client: S3Client, presigner: S3Client, bucket: str) -> None:
        self._client = client
        self._presigner = presigner  # signs for the public endpoint; never sends a request
        self.bucket = bucket

    async def upload_url(
        self, key: str, *, size: int, content_type: str, expires_s: int
    ) -> PresignedUpload:
        """A presigned PUT of exactly ``size`` bytes of ``content_type`` to ``key``. A
        browser's fetch sets Content-Length from the body itself; Content-Type it must send as
        given."""
        if size < 0:
            raise ValueError(f"an object's size cannot be negative: {size}")
        _check_expiry(expires_s)
        url = await self._presigner.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentLength": size,
                "ContentType": content_type,
            },
            ExpiresIn=expires_s,
        )
        headers = {"Content-Length": str(size), "Content-Type": content_type}
        return PresignedUpload(url, headers, _now() + dt.timedelta(seconds=expires_s))

    async def download_url(self, key: str, *, disposition: str, expires_s: int) -> str:
        """A presigned GET of ``key`` whose response carries ``disposition`` as its
        Content-Disposition (see ``content_disposition``)."""
        _check_expiry(expires_s)
        return await self._presigner.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": disposition},
            ExpiresIn=expires_s,
        )

    async def head(self, key: str) -> StoredObject | None:
        """The object's size, type and age, or None when there is no such object."""
        try:
            reply = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        return StoredObject(
            key,
            reply["ContentLength"],
            reply.get("ContentType", "binary/octet-stream"),
            reply["LastModified"],
        )

    async def first_bytes(self, key: str, count: int) -> bytes | None:
        """Up to ``count`` bytes from the start of the object (a Range GET), enough to sniff
        its type without reading the rest; None when there is no such object."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        try:
            reply = await self._client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{count - 1}"
            )
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            if _status(exc) == 416:  # an empty object has no first byte to range over
                return b""
            raise
        async with reply["Body"] as body:
            return await body.read()

    async def get(self, key: str) -> bytes | None:
        """The whole object, or None when there is no such object. For the objects a service
        works on itself (an image the media worker re-encodes), which the upload limit keeps
        small enough to hold in memory."""
        try:
            reply = await self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        async with reply["Body"] as body:
            return await body.read()

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await self._client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
        )

    async def delete(self, key: str) -> None:
        """Removes the object; an object already gone is no error (clean-up may run twice)."""
        await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def older_than(self, prefix: str, cutoff: dt.datetime) -> AsyncIterator[StoredObject]:
        """Every object under ``prefix`` last written before ``cutoff``, page by page, so a
        large bucket is never held in memory. Listings carry no content type: it is empty."""
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["LastModified"] < cutoff:
                    yield StoredObject(item["Key"], item["Size"], "", item["LastModified"])


@asynccontextmanager
async def open_object_store(settings: ObjectStoreSettings) -> AsyncIterator[ObjectStore]:
    """The store's client for as long as the block runs; its connections close after."""
    session = get_session()
    config = AioConfig(
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.path_style else "virtual"},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        max_pool_connections=settings.max_connections,
        retries={"max_attempts": 3, "mode": "standard"},
        # Checksums only where S3 requires them: botocore's default (CRC32 trailers on every
        # upload) is newer than several S3-compatible stores.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )

    def client(endpoint: str) -> ClientCreatorContext[S3Client]:
        return session.create_client(
            "s3",
            endpoint_url=endpoint,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=config,
        )

    async with AsyncExitStack() as stack:
        s3 = await stack.enter_async_context(client(settings.endpoint_url))
        presigner = s3
        if settings.public_endpoint_url:
            presigner = await stack.enter_async_context(client(settings.public_endpoint_url))
        yield ObjectStore(s3, presigner, settings.bucket)


# SigV4 presigned URLs live from a second to seven days; S3 refuses longer ones when used.
_MAX_EXPIRY_S = 7 * 24 * 3600


def _check_expiry(expires_s: int) -> None:
    if not 1 <= expires_s <= _MAX_EXPIRY_S:
        raise ValueError(f"a presigned URL lives 1 to {_MAX_EXPIRY_S} s, not {expires_s}")


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
