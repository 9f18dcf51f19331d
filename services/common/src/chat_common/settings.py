"""Typed settings read from the environment, validated once at start-up.

Each service declares one frozen ``msgspec.Struct`` and loads it with its own prefix
(``CHAT_GATEWAY_``, ``CHAT_AUTH_``, ``CHAT_WORKER_``); a field ``redis_url`` is read from
``<PREFIX>REDIS_URL``. Sequences are written comma-separated.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec

SettingsT = TypeVar("SettingsT", bound=msgspec.Struct)

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]

LOCAL_DATABASE_URL = "postgresql://chat:chat@127.0.0.1:5432/chat"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_KAFKA_BOOTSTRAP = "127.0.0.1:9092"


class SettingsError(Exception):
    """The environment does not describe a valid configuration; the message names the variable."""


def load_settings(
    cls: type[SettingsT], prefix: str, environ: Mapping[str, str] | None = None
) -> SettingsT:
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls, include_extras=True)
    raw: dict[str, Any] = {}
    for field in cls.__struct_fields__:
        name = f"{prefix}{field.upper()}"
        if name in env:
            raw[field] = _split_if_sequence(hints[field], env[name])
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(
            f"invalid configuration ({prefix}*): {_name_variable(exc, prefix)}"
        ) from exc


def _split_if_sequence(hint: Any, value: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _split_if_sequence(typing.get_args(hint)[0], value)
    if origin in (list, tuple, frozenset, set):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _name_variable(exc: msgspec.ValidationError, prefix: str) -> str:
    # msgspec says "... - at `$.redis_url`"; point at the environment variable instead.
    message = str(exc)
    missing = message.removeprefix("Object missing required field `")
    if missing != message and "`" not in missing.rstrip("`"):
        return f"{prefix}{missing.rstrip('`').upper()} is required"
    head, sep, path = message.rpartition(" - at `$.")
    if not sep:
        return message
    field = path.rstrip("`").split("[", 1)[0].split(".", 1)[0]
    return f"{prefix}{field.upper()}: {head}"


LogLevel = typing.Literal["debug", "info", "warning", "error"]


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Fields every service has; a service's settings extend this."""

    log_level: LogLevel = "info"
    log_format: typing.Literal["json", "text"] = "text"
