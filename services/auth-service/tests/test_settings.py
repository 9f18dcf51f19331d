from __future__ import annotations

import pytest

from chat_auth.settings import load_auth_settings
from chat_common.settings import SettingsError


def test_defaults_follow_the_protocol_and_owasp() -> None:
    settings = load_auth_settings({})
    assert settings.port == 8200
    assert settings.audience == "chat"
    assert settings.access_token_ttl_s == 600
    assert (settings.argon2_memory_kib, settings.argon2_time_cost) == (19_456, 2)
    assert settings.previous_key_file == ""
    assert settings.forwarded_allow_ips == ()


def test_values_are_read_from_chat_auth_variables() -> None:
    settings = load_auth_settings(
        {
            "CHAT_AUTH_PORT": "9200",
            "CHAT_AUTH_ACCESS_TOKEN_TTL_S": "300",
            "CHAT_AUTH_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "CHAT_AUTH_PREVIOUS_KEY_FILE": "/keys/previous.pem",
        }
    )
    assert settings.port == 9200
    assert settings.access_token_ttl_s == 300
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.previous_key_file == "/keys/previous.pem"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHAT_AUTH_ACCESS_TOKEN_TTL_S", "901"),  # docs/protocol.md: at most 15 minutes
        ("CHAT_AUTH_ARGON2_MEMORY_KIB", "8192"),  # below OWASP's 19 MiB
        ("CHAT_AUTH_ARGON2_TIME_COST", "1"),
        ("CHAT_AUTH_LOGIN_FAILURES_PER_USER", "0"),
        ("CHAT_AUTH_LOGIN_PACE_S", "0"),
        ("CHAT_AUTH_REGISTRATIONS_PER_IP", "0"),
        ("CHAT_AUTH_HASH_QUEUE_LIMIT", "0"),  # nothing could ever be hashed
        ("CHAT_AUTH_THROTTLE_IPV6_PREFIX", "16"),  # whole providers would share one count
        ("CHAT_AUTH_FORWARDED_ALLOW_IPS", "10.0.0.0/8,proxy.internal"),  # uvicorn ignores it
    ],
)
def test_unsafe_values_stop_start_up_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_auth_settings({variable: value})
