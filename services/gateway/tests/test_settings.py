from __future__ import annotations

import pytest

from chat_common.settings import SettingsError, load_settings
from chat_gateway.settings import PREFIX, GatewaySettings, load_object_store_settings


def test_every_wait_and_limit_is_a_setting_with_its_default() -> None:
    settings = load_settings(GatewaySettings, PREFIX, {})
    assert (settings.join_follow_timeout_s, settings.duplicate_wait_s) == (5.0, 5.0)
    assert (settings.send_lock_s, settings.access_cache_ttl_s) == (15.0, 30.0)
    assert (settings.http_body_max_bytes, settings.drain_close_wait_s) == (4096, 2.0)
    changed = load_settings(
        GatewaySettings,
        PREFIX,
        {"CHAT_GATEWAY_ACCESS_CACHE_TTL_S": "5", "CHAT_GATEWAY_HTTP_BODY_MAX_BYTES": "2048"},
    )
    assert (changed.access_cache_ttl_s, changed.http_body_max_bytes) == (5.0, 2048)


def test_a_reply_never_takes_more_than_half_the_outbound_queue() -> None:
    assert load_settings(GatewaySettings, PREFIX, {}).reply_bytes == 262_144
    small = load_settings(GatewaySettings, PREFIX, {"CHAT_GATEWAY_OUTBOUND_QUEUE_BYTES": "65536"})
    assert small.reply_bytes == 32_768


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CHAT_GATEWAY_SEND_LOCK_S": "3"}, "CHAT_GATEWAY_SEND_LOCK_S"),
        ({"CHAT_GATEWAY_MAX_ROOMS_PER_CONNECTION": "0"}, "CHAT_GATEWAY_MAX_ROOMS_PER_CONNECTION"),
        ({"CHAT_GATEWAY_MAX_REPLY_BYTES": "100"}, "CHAT_GATEWAY_MAX_REPLY_BYTES"),
    ],
)
def test_an_invalid_configuration_names_its_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(GatewaySettings, PREFIX, environ)


def test_the_attachment_limits_have_their_defaults() -> None:
    settings = load_settings(GatewaySettings, PREFIX, {})
    assert settings.upload_max_bytes == 25 * 1024 * 1024
    assert (settings.upload_max_per_message, settings.uploads_per_hour) == (10, 60)
    assert (settings.upload_url_ttl_s, settings.download_url_ttl_s) == (300, 300)
    assert settings.internal_token == ""


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CHAT_GATEWAY_INTERNAL_TOKEN": "short"}, "CHAT_GATEWAY_INTERNAL_TOKEN"),
        ({"CHAT_GATEWAY_UPLOAD_MAX_PER_MESSAGE": "21"}, "CHAT_GATEWAY_UPLOAD_MAX_PER_MESSAGE"),
        # The in-flight lock must outlast the checks of a send's files and its Kafka wait.
        ({"CHAT_GATEWAY_ATTACHMENT_CHECK_TIMEOUT_S": "12"}, "ATTACHMENT_CHECK_TIMEOUT_S"),
    ],
)
def test_an_invalid_attachment_setting_names_its_variable(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(GatewaySettings, PREFIX, environ)


def test_without_object_store_settings_the_gateway_takes_no_attachments() -> None:
    assert load_object_store_settings({"CHAT_GATEWAY_PORT": "8101"}) is None
    store = load_object_store_settings(
        {"CHAT_OBJECT_STORE_ACCESS_KEY_ID": "key", "CHAT_OBJECT_STORE_SECRET_ACCESS_KEY": "secret"}
    )
    assert store is not None
    assert store.bucket == "chat-attachments"
    # One variable set and a required one missing is a mistake, not "no store".
    with pytest.raises(SettingsError, match="CHAT_OBJECT_STORE_SECRET_ACCESS_KEY is required"):
        load_object_store_settings({"CHAT_OBJECT_STORE_ACCESS_KEY_ID": "key"})
