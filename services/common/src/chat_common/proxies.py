"""Whose word on the client's address a service takes: ``X-Forwarded-For`` counts only when the
peer is one of the proxies (addresses or networks) in the service's settings.

uvicorn's proxy-headers middleware applies the rule (the rightmost address not itself a trusted
proxy is the client), so every service names clients the same way; this module checks the
setting at start-up, since uvicorn silently ignores an entry it cannot parse.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any


def check_trusted_proxies(entries: Iterable[str]) -> None:
    """Raises ``ValueError`` naming the first entry that is not an IP address or network, or
    ``*`` (every peer: only where nothing but the balancer can reach the service)."""
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry)  # an address is a network of one
        except ValueError as exc:
            raise ValueError(
                f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from exc


def proxy_header_options(trusted: tuple[str, ...]) -> dict[str, Any]:
    """uvicorn.Config options: forwarded headers from ``trusted`` peers only, none without any."""
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": ",".join(trusted) or None}


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """Who the client is: ``peer``, unless ``peer`` is a trusted proxy and forwarded a header;
    then the rightmost address in it that is not itself a trusted proxy (uvicorn's rule, so
    services behind the same balancer name a client alike), or the leftmost if all are."""
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    if "*" in trusted:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in trusted)
