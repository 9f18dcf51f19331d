from __future__ import annotations

import msgspec
import pytest

from chat_common.settings import (
    LOCAL_REDIS_URL,
    NonEmptyStr,
    Port,
    PositiveFloat,
    ServiceSettings,
    SettingsError,
    load_settings,
)


class DemoSettings(ServiceSettings, frozen=True, kw_only=True):
    port: Port = 8000
    redis_url: NonEmptyStr = LOCAL_REDIS_URL
    allowed_origins: tuple[str, ...] = ()
    idle_timeout_s: PositiveFloat = 30.0
    create_rooms: bool = True


def test_defaults_when_the_environment_says_nothing() -> None:
    settings = load_settings(DemoSettings, "CHAT_DEMO_", {})
    assert settings.port == 8000
    assert settings.redis_url == LOCAL_REDIS_URL
    assert settings.log_level == "info"


def test_values_are_read_with_the_prefix_and_converted() -> None:
    settings = load_settings(
        DemoSettings,
        "CHAT_DEMO_",
        {
            "CHAT_DEMO_PORT": "9001",
            "CHAT_DEMO_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "CHAT_DEMO_IDLE_TIMEOUT_S": "2.5",
            "CHAT_DEMO_CREATE_ROOMS": "false",
            "CHAT_DEMO_LOG_LEVEL": "debug",
            "CHAT_OTHER_PORT": "1",
        },
    )
    assert settings.port == 9001
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.idle_timeout_s == 2.5
    assert settings.create_rooms is False
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHAT_DEMO_PORT", "70000"),
        ("CHAT_DEMO_PORT", "eighty"),
        ("CHAT_DEMO_IDLE_TIMEOUT_S", "0"),
        ("CHAT_DEMO_REDIS_URL", ""),
        ("CHAT_DEMO_LOG_LEVEL", "loud"),
    ],
)
def test_an_invalid_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(DemoSettings, "CHAT_DEMO_", {variable: value})


class SecretSettings(msgspec.Struct, frozen=True, kw_only=True):
    api_secret: NonEmptyStr


def test_a_missing_required_value_names_its_variable() -> None:
    with pytest.raises(SettingsError, match=r"CHAT_DEMO_API_SECRET is required$"):
        load_settings(SecretSettings, "CHAT_DEMO_", {})
