"""Who is calling the gateway, as far as the edge can vouch for it.

Envoy treats every caller as external (envoy/listener.py: no address is internal), so it sets
x-envoy-external-address to the address it saw, replacing whatever a client sent. It also appends
to X-Forwarded-For (use_remote_address), whose last entry is therefore its own too, except that
for a loopback caller Envoy appends this host's own address instead; earlier entries are the
client's word. A call that reached the gateway without Envoy has neither header and is described
by its peer.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

from service_runtime.request_meta import last_forwarded_for

EXTERNAL_ADDRESS_HEADER = "x-envoy-external-address"


def peer_ip(request: Request) -> str:
    """The address of the TCP peer: Envoy, or a direct caller."""
    return request.client.host if request.client else ""


def client_ip(request: Request) -> str:
    """The caller's address: what Envoy saw, else the peer's."""
    headers = request.headers
    seen = headers.get(EXTERNAL_ADDRESS_HEADER, "") or last_forwarded_for(headers.get("x-forwarded-for", ""))
    return seen or peer_ip(request)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def from_loopback(request: Request) -> bool:
    """True when the caller is on this host: the peer (Envoy, or a direct caller) is loopback,
    and so is the address Envoy saw. A remote client can forge neither: Envoy replaces the header,
    and the gateway runs without uvicorn's proxy-header rewriting (gateway/__main__.py), so the
    peer is the real one."""
    return is_loopback(peer_ip(request)) and is_loopback(client_ip(request))
