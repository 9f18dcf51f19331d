from __future__ import annotations

import pytest

from chat_common.proxies import check_trusted_proxies, proxy_header_options


def test_addresses_and_networks_of_both_families_are_accepted() -> None:
    check_trusted_proxies(["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"])
    check_trusted_proxies(["*"])  # every peer: a private network only the balancer reaches


@pytest.mark.parametrize("entry", ["localhost", "10.0.0.300", "10.1.2.3/8", "", "**"])
def test_anything_else_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError, match="is not an IP address or network") as refused:
        check_trusted_proxies(["127.0.0.1", entry])
    assert repr(entry) in str(refused.value)


def test_without_trusted_proxies_forwarded_headers_are_ignored() -> None:
    assert proxy_header_options(()) == {"proxy_headers": False, "forwarded_allow_ips": None}
    assert proxy_header_options(("127.0.0.1", "10.0.0.0/8")) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1,10.0.0.0/8",
    }
