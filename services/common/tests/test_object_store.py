"""The object store module against a real SeaweedFS (chat_testing.object_store): what a
presigned upload lets through and what the store refuses, and the reads, writes and listings
the attachments need."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest

from chat_common.object_store import (
    SETTINGS_PREFIX,
    ObjectStore,
    ObjectStoreSettings,
    content_disposition,
    open_object_store,
)
from chat_common.settings import SettingsError, load_settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
async def store(object_store_settings: ObjectStoreSettings) -> AsyncIterator[ObjectStore]:
    async with open_object_store(object_store_settings) as opened:
        yield opened


def fresh_key(name: str = "photo.png") -> str:
    return f"test/{uuid.uuid4().hex}/{name}"


async def test_a_presigned_put_of_the_announced_size_and_type_is_stored(
    store: ObjectStore,
) -> None:
    key = fresh_key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
    async with httpx.AsyncClient() as http:
        reply = await http.put(upload.url, content=PNG, headers=upload.headers)
    assert reply.status_code == 200, reply.text
    stored = await store.head(key)
    assert stored is not None
    assert (stored.size, stored.content_type) == (len(PNG), "image/png")


@pytest.mark.parametrize("size", [len(PNG) - 1, len(PNG) + 1, 0])
async def test_a_presigned_put_refuses_another_size(store: ObjectStore, size: int) -> None:
    key = fresh_key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
    body = (PNG * 2)[:size]
    async with httpx.AsyncClient() as http:
        # httpx sends the body's own Content-Length, as any client must.
        reply = await http.put(upload.url, content=body, headers={"Content-Type": "image/png"})
    assert reply.status_code == 403, reply.text
    assert "SignatureDoesNotMatch" in reply.text
    assert await store.head(key) is None


async def test_a_presigned_put_refuses_another_content_type(store: ObjectStore) -> None:
    key = fresh_key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
    headers = {**upload.headers, "Content-Type": "text/html"}
    async with httpx.AsyncClient() as http:
        reply = await http.put(upload.url, content=PNG, headers=headers)
    assert reply.status_code == 403, reply.text
    assert "SignatureDoesNotMatch" in reply.text
    assert await store.head(key) is None


async def test_a_presigned_put_without_its_content_type_is_refused(store: ObjectStore) -> None:
    key = fresh_key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
    async with httpx.AsyncClient() as http:
        reply = await http.put(upload.url, content=PNG)
    assert reply.status_code == 403, reply.text
    assert await store.head(key) is None


async def test_an_expired_presigned_put_is_refused(store: ObjectStore) -> None:
    key = fresh_key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=1)
    await asyncio.sleep(2.2)
    async with httpx.AsyncClient() as http:
        reply = await http.put(upload.url, content=PNG, headers=upload.headers)
    assert reply.status_code == 403, reply.text
    assert "expired" in reply.text.lower()
    assert await store.head(key) is None


async def test_a_presigned_put_is_signed_for_the_public_endpoint(
    object_store_settings: ObjectStoreSettings,
) -> None:
    public = object_store_settings.endpoint_url.replace("127.0.0.1", "localhost")
    settings = msgspec.structs.replace(object_store_settings, public_endpoint_url=public)
    key = fresh_key()
    async with open_object_store(settings) as store:
        upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
        assert upload.url.startswith(f"{public}/{settings.bucket}/{key}?")
        async with httpx.AsyncClient() as http:
            reply = await http.put(upload.url, content=PNG, headers=upload.headers)
        assert reply.status_code == 200, reply.text
        assert await store.head(key) is not None


async def test_first_bytes_reads_only_the_start(store: ObjectStore) -> None:
    key = fresh_key("big.bin")
    data = bytes(range(256)) * 400
    await store.put(key, data, content_type="application/octet-stream")
    assert await store.first_bytes(key, 16) == data[:16]
    assert await store.first_bytes(key, len(data) + 100) == data


async def test_first_bytes_of_an_empty_or_missing_object(store: ObjectStore) -> None:
    key = fresh_key("empty.txt")
    await store.put(key, b"", content_type="text/plain")
    assert await store.first_bytes(key, 16) == b""
    assert await store.first_bytes(fresh_key(), 16) is None


async def test_a_presigned_get_returns_the_bytes_under_the_name_asked_for(
    store: ObjectStore,
) -> None:
    key = fresh_key()
    await store.put(key, PNG, content_type="image/png")
    disposition = content_disposition('Résumé "final".png')
    url = await store.download_url(key, disposition=disposition, expires_s=60)
    async with httpx.AsyncClient() as http:
        reply = await http.get(url)
    assert reply.status_code == 200, reply.text
    assert reply.content == PNG
    assert reply.headers["content-disposition"] == disposition
    assert reply.headers["content-type"] == "image/png"


def test_content_disposition_keeps_the_name_and_a_safe_fallback() -> None:
    assert content_disposition('Résumé "final".pdf') == (
        'attachment; filename="R_sum_ _final_.pdf"; '
        "filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf"
    )
    assert content_disposition("a\r\nb.png", inline=True) == (
        "inline; filename=\"a__b.png\"; filename*=UTF-8''a%0D%0Ab.png"
    )
    assert content_disposition("日本.txt").startswith('attachment; filename="__.txt";')


async def test_get_reads_the_whole_object_or_none_when_missing(store: ObjectStore) -> None:
    key = fresh_key("big.bin")
    # Larger than one read of the response stream, so every chunk must be gathered.
    data = bytes(range(256)) * 4096
    await store.put(key, data, content_type="application/octet-stream")
    assert await store.get(key) == data
    assert await store.get(fresh_key()) is None


async def test_delete_is_idempotent(store: ObjectStore) -> None:
    key = fresh_key()
    await store.put(key, PNG, content_type="image/png")
    await store.delete(key)
    assert await store.head(key) is None
    await store.delete(key)
    assert await store.head(key) is None


async def test_older_than_lists_only_objects_written_before_the_cutoff(
    store: ObjectStore,
) -> None:
    prefix = f"test/{uuid.uuid4().hex}/"
    await store.put(f"{prefix}old", PNG, content_type="image/png")
    await store.put(f"other-{prefix}old", PNG, content_type="image/png")
    # The store keeps whole seconds: a second on each side keeps the cutoff between them.
    await asyncio.sleep(1.1)
    cutoff = dt.datetime.now(dt.UTC)
    await asyncio.sleep(1.1)
    await store.put(f"{prefix}new", PNG, content_type="image/png")
    found = [stored async for stored in store.older_than(prefix, cutoff)]
    assert [(stored.key, stored.size) for stored in found] == [(f"{prefix}old", len(PNG))]
    everything = [s.key async for s in store.older_than(prefix, cutoff + dt.timedelta(hours=1))]
    assert sorted(everything) == [f"{prefix}new", f"{prefix}old"]


def test_settings_without_credentials_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="CHAT_OBJECT_STORE_ACCESS_KEY_ID"):
        load_settings(ObjectStoreSettings, SETTINGS_PREFIX, {})
    settings = load_settings(
        ObjectStoreSettings,
        SETTINGS_PREFIX,
        {
            "CHAT_OBJECT_STORE_ACCESS_KEY_ID": "key",
            "CHAT_OBJECT_STORE_SECRET_ACCESS_KEY": "secret",
            "CHAT_OBJECT_STORE_PATH_STYLE": "false",
        },
    )
    assert (settings.bucket, settings.path_style) == ("chat-attachments", False)


async def test_a_presigned_put_sent_in_chunks_is_refused(store: ObjectStore) -> None:
    """A body without a Content-Length (chunked transfer) cannot match the signed size."""
    key = fresh_key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
    assert "content-length" in parse_qs(urlsplit(upload.url).query)["X-Amz-SignedHeaders"][0]

    async def chunks() -> AsyncIterator[bytes]:
        yield PNG[:100]
        yield PNG[100:]

    async with httpx.AsyncClient() as http:
        reply = await http.put(upload.url, content=chunks(), headers={"Content-Type": "image/png"})
    assert reply.status_code == 403, reply.text
    assert await store.head(key) is None


@pytest.mark.parametrize(
    ("size", "expires_s", "message"),
    [(-1, 60, "size cannot be negative"), (10, 0, "1 to 604800 s"), (10, 604801, "1 to 604800 s")],
)
async def test_an_impossible_upload_is_refused_before_signing(
    store: ObjectStore, size: int, expires_s: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await store.upload_url(
            fresh_key(), size=size, content_type="image/png", expires_s=expires_s
        )
    with pytest.raises(ValueError, match="1 to 604800 s"):
        await store.download_url(fresh_key(), disposition="attachment", expires_s=0)
