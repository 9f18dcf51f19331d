"""The pool of processes that decode images, so the event loop never does.

Processes, not threads: Pillow releases the GIL inside its C codecs, but not while a plugin
parses a file's chunks and frames in Python, and a 50-megapixel decode would hold the loop
(and with it Kafka heartbeats and the health probes) for whole seconds at a time; and a decoder
that crashes on a hostile file (Pillow's C decoders have had such bugs) takes down its process
only. The pool is started with ``forkserver``: forking this process, which runs threads (the
event loop's executors, the S3 client's), could copy a lock held by one of them.

A process that dies breaks the pool and every image it held fails. The pool is then replaced,
and each of those images is tried again, alone; an image that kills its process a second time
is refused (shown as a file), so one hostile file cannot stop the stream.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from chat_media.images import ImageLimits, Processed, Refused, process_image

log = logging.getLogger(__name__)

# An image that has broken the pool this often is refused.
_CRASHES_ALLOWED = 2


class ImageDecoder:
    def __init__(self, limits: ImageLimits, processes: int) -> None:
        self._limits = limits
        self._processes = processes
        self._pool = self._new_pool()
        # Held while an image is retried after a crash, with every slot, so that it runs alone
        # and a second crash is its own, not another image's.
        self._alone = asyncio.Lock()
        self._slots = asyncio.Semaphore(processes)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._processes, mp_context=multiprocessing.get_context("forkserver")
        )

    async def process(self, data: bytes, content_type: str) -> Processed | Refused:
        async with self._slots:
            try:
                return await self._run(data, content_type)
            except BrokenProcessPool:
                log.warning("an image decoder died; trying its images again one at a time")
        async with self._alone:
            # Every slot, so nothing else runs in the pool meanwhile.
            for _ in range(self._processes):
                await self._slots.acquire()
            try:
                for _ in range(_CRASHES_ALLOWED - 1):
                    try:
                        return await self._run(data, content_type)
                    except BrokenProcessPool:
                        pass
            finally:
                for _ in range(self._processes):
                    self._slots.release()
            log.error("an image killed its decoder again; it is shown as a file")
            return Refused("its decoder crashed")

    async def _run(self, data: bytes, content_type: str) -> Processed | Refused:
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, process_image, data, content_type, self._limits
            )
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = self._new_pool()
                pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
