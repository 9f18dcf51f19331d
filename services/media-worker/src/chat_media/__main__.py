"""``python -m chat_media``: load the settings, then run the worker on uvloop until SIGTERM."""

from __future__ import annotations

import logging
import sys

import uvloop

from chat_common.logs import configure_logging
from chat_common.object_store import SETTINGS_PREFIX, ObjectStoreSettings
from chat_common.settings import SettingsError, load_settings
from chat_media.service import serve
from chat_media.settings import load_media_settings


def main() -> int:
    try:
        settings = load_media_settings()
        store_settings = load_settings(ObjectStoreSettings, SETTINGS_PREFIX)
    except SettingsError as exc:
        print(f"chat-media-worker: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        uvloop.run(serve(settings, store_settings))
    except Exception:
        # Nothing unfinished was committed; a restarted worker reads those records again.
        logging.getLogger("chat_media").exception("media worker failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
