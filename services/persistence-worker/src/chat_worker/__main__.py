"""``python -m chat_worker``: load the settings, then run the worker on uvloop until SIGTERM."""

from __future__ import annotations

import gc
import logging
import sys

import uvloop

from chat_common.logs import configure_logging
from chat_common.settings import SettingsError
from chat_worker.service import serve
from chat_worker.settings import load_worker_settings

# A batch keeps some three container objects a record (the record, its row) alive until it is
# stored, 60,000 for a full one; reference counting frees them. At Python's default (a
# collection for every 700 more) the cyclic collector scanned them over and over and took
# 10-15 % of the worker's CPU while draining a backlog (worker CPU per 1,000 rows in make
# bench-worker: 20 ms, 17 with these). The worker makes hardly any reference cycles to find.
_GC_THRESHOLDS = (20_000, 20, 20)


def main() -> int:
    try:
        settings = load_worker_settings()
    except SettingsError as exc:
        print(f"chat-persistence-worker: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    gc.set_threshold(*_GC_THRESHOLDS)
    try:
        # uvloop: the C event loop; the worker's socket writes (COPY to Postgres, fetches from
        # Kafka) cost less CPU on it than on asyncio's selector loop.
        uvloop.run(serve(settings))
    except Exception:
        # Nothing unstored was committed; a restarted worker reads those records again.
        logging.getLogger("chat_worker").exception("worker failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
