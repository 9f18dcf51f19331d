"""A py-spy profile of one gateway process while it fans out: a flame graph (SVG) and the
collapsed stacks, from which the top costs are tallied by function.

py-spy samples without stopping the process (``--nonblocking``), so the profile costs the
gateway little; it needs ptrace rights over it (root, or the same user with ptrace allowed).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

RATE_HZ = 100
# A frame of py-spy's raw output: "function (path/to/file.py:123)"; the line number is dropped
# so one function's samples add up.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise FileNotFoundError("py-spy is missing: `make bench` installs it (the bench group)")
    return found


@contextlib.asynccontextmanager
async def recording(pid: int, seconds: float, directory: Path) -> AsyncIterator[None]:
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    recorders = [
        await asyncio.create_subprocess_exec(
            _py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(RATE_HZ),
            "--nonblocking",
            "--format",
            kind,
            "--output",
            str(directory / name),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for kind, name in (("flamegraph", "gateway-profile.svg"), ("raw", "gateway-profile.txt"))
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            _, errors = await recorder.communicate()
            if recorder.returncode != 0:
                raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-2000:]}")


def _frame(text: str) -> str:
    found = _FRAME.match(text)
    if found is None:
        return text
    path = found["file"]
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{found['function']} ({path})"


def top_costs(collapsed: Path, count: int = 15) -> tuple[int, list[tuple[str, int, int]]]:
    """Samples in all, and the functions with the most samples of their own (self), each with
    its self and total (self and callees) samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, weight = line.rpartition(" ")
        if not stack or not weight.isdigit():
            continue
        frames = [_frame(frame) for frame in stack.split(";")]
        # The first frame is the thread ("process 123:..." / "thread ..."), not code.
        frames = [frame for frame in frames if not frame.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(weight)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return samples, [(name, n, total[name]) for name, n in own.most_common(count)]
