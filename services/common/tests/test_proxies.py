from __future__ import annotations

import pytest

from chat_common.proxies import check_trusted_proxies, client_address, proxy_header_options


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


BALANCER = ("10.0.0.0/8",)


def test_a_client_is_its_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    assert client_address("203.0.113.7", None, BALANCER) == "203.0.113.7"
    # Anyone may send the header; only a trusted peer's is believed.
    assert client_address("203.0.113.7", "198.51.100.1", BALANCER) == "203.0.113.7"
    assert client_address("203.0.113.7", "198.51.100.1", ()) == "203.0.113.7"
    assert client_address("10.1.2.3", "198.51.100.1", BALANCER) == "198.51.100.1"


def test_a_client_cannot_choose_its_address_by_prepending_to_the_header() -> None:
    # The balancer appends the address it saw; what the client wrote comes first.
    forwarded = "192.0.2.99, 198.51.100.1"
    assert client_address("10.1.2.3", forwarded, BALANCER) == "198.51.100.1"
    # Trusted hops between balancers are skipped, the first untrusted one from the right wins.
    assert client_address("10.1.2.3", "198.51.100.1, 10.9.9.9", BALANCER) == "198.51.100.1"


def test_a_header_of_trusted_hops_only_names_the_first_of_them() -> None:
    assert client_address("10.1.2.3", "10.4.4.4, 10.5.5.5", BALANCER) == "10.4.4.4"
    assert client_address("10.1.2.3", " , ", BALANCER) == "10.1.2.3"
    assert client_address("10.1.2.3", "198.51.100.1", ("*",)) == "198.51.100.1"
