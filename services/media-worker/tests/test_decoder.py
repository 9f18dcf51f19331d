"""The decoder pool (chat_media.decoder): images are processed in processes of their own, and
a process that dies takes its pool down only until the pool is replaced."""

from __future__ import annotations

import asyncio
import os
import signal

from chat_media.decoder import ImageDecoder
from chat_media.images import ImageLimits, Processed, Refused
from chat_testing.media import corrupt_jpeg, jpeg_with_gps, metadata_left

LIMITS = ImageLimits(
    max_pixels=50_000_000, max_frames=100, thumbnail_side=480, jpeg_quality=85, webp_quality=80
)


async def test_images_are_processed_in_other_processes() -> None:
    decoder = ImageDecoder(LIMITS, processes=2)
    try:
        results = await asyncio.gather(
            decoder.process(jpeg_with_gps(), "image/jpeg"),
            decoder.process(corrupt_jpeg(), "image/jpeg"),
        )
        processed, refused = results
        assert isinstance(processed, Processed)
        assert metadata_left(processed.original) == []
        assert isinstance(refused, Refused)
        pids = set(decoder._pool._processes)  # which processes decode
        assert pids
        assert os.getpid() not in pids
    finally:
        decoder.close()


async def test_a_decoder_process_that_died_is_replaced_and_the_image_done() -> None:
    decoder = ImageDecoder(LIMITS, processes=1)
    try:
        assert isinstance(await decoder.process(jpeg_with_gps(), "image/jpeg"), Processed)
        broken = decoder._pool
        for pid in list(broken._processes):
            os.kill(pid, signal.SIGKILL)
        # The executor notices the death on its own thread; until then a call may still be
        # handed to the dead pool, and it fails with BrokenProcessPool either way.
        async with asyncio.timeout(30):
            while not broken._broken:
                await asyncio.sleep(0.05)

        result = await decoder.process(jpeg_with_gps(), "image/jpeg")

        assert isinstance(result, Processed)
        assert decoder._pool is not broken
    finally:
        decoder.close()
