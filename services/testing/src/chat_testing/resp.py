"""One command to a Redis (or Sentinel) of a test's own, without a client library: what the
fixtures ask while the servers come together, when redis-py's clients are not made yet."""

from __future__ import annotations

import asyncio


async def ask(port: int, *words: str) -> list[bytes]:
    """One command to the server on ``port``: its reply's lines (RESP2), in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def element() -> list[bytes]:
        line = await reader.readline()
        if line.startswith(b"*") and line != b"*-1\r\n":
            lines = [line]
            for _ in range(int(line[1:])):
                lines += await element()
            return lines
        if line.startswith(b"$") and line != b"$-1\r\n":
            return [line, await reader.readline()]
        return [line]

    try:
        command = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        writer.write(command.encode())
        await writer.drain()
        async with asyncio.timeout(5):
            return await element()
    finally:
        writer.close()
        await writer.wait_closed()
