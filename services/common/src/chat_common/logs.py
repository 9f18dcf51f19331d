"""Structured logging: one line per event, JSON in production, readable locally."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any, Literal

import msgspec

LogFormat = Literal["json", "text"]

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is a field.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        event.update(_extra_fields(record))
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(event).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = _extra_fields(record)
        if extra:
            line += " " + " ".join(f"{key}={value}" for key, value in extra.items())
        return line


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRS and not key.startswith("_")
    }


def configure_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every reconnect attempt at ERROR; our own code reports outages once.
    logging.getLogger("aiokafka").setLevel(max(root.level, logging.WARNING))


def log_event_loop(log: logging.Logger) -> None:
    """Names the running event loop at start-up: every service is meant to run on uvloop, and
    a deployment that silently fell back to asyncio's own loop costs a third more CPU."""
    loop = type(asyncio.get_running_loop())
    log.info("event loop", extra={"loop": f"{loop.__module__}.{loop.__qualname__}"})
