"""Where a task waits: each coroutine it is suspended in, and the future the innermost awaits.

``Task.get_stack()`` shows a suspended task's outermost coroutine only, which is not enough to
tell which of its steps never returns.
"""

from __future__ import annotations

import asyncio
from typing import Any


def where(task: asyncio.Task[Any]) -> str:
    """The task (its repr names the future it waits for, ``wait_for=``), then ``file:line in
    function`` for each coroutine it is suspended in, outermost first."""
    lines = [f"{task!r:.400}"]
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            break
        lines.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)
