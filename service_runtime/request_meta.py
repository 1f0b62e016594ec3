"""Who is on the other end of a call, as far as we can tell: address, user agent, request id.

Envoy runs with use_remote_address, so the last x-forwarded-for entry is the address Envoy
itself saw; earlier entries come from the client and are not trusted. The header counts only
when the peer is one of our proxies (TRUSTED_PROXY_CIDRS: by default loopback and the private
ranges, where Envoy and the gateway run under `make run` and in a cluster): anyone else reaching
the service port directly could name any address in it, and so escape the per-address limits
(sign-in failures, mails sent) and write what it likes into the audit log. Every other call is
described by its peer address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import grpc

from service_runtime.context import request_id_var

# Loopback (make run: Envoy on this host) and the private ranges (a cluster's pod network).
DEFAULT_TRUSTED_PROXY_CIDRS = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
# Peers remembered with their verdict: a handful of proxies, or many direct callers; past this
# many the memory starts again rather than growing with every address that ever called.
PEERS_KEPT = 4096

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RequestMeta:
    ip: str
    user_agent: str
    request_id: str


def parse_cidrs(text: str) -> tuple[Network, ...]:
    """The address ranges of a comma-separated list ("10.0.0.0/8, ::1"; a bare address is one
    address). ValueError names an entry that is neither."""
    networks: list[Network] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXY_CIDRS: {entry!r} is not an address or a CIDR range") from None
    return tuple(networks)


class TrustedProxies:
    """The peers whose X-Forwarded-For is believed. Ranges are parsed once and each peer's verdict
    remembered: this runs on every call."""

    def __init__(self, cidrs: str) -> None:
        self.networks = parse_cidrs(cidrs)
        self._verdicts: dict[str, bool] = {}

    def trusts(self, address: str) -> bool:
        verdict = self._verdicts.get(address)
        if verdict is None:
            verdict = self._in_ranges(address)
            if len(self._verdicts) >= PEERS_KEPT:
                self._verdicts.clear()
            self._verdicts[address] = verdict
        return verdict

    def _in_ranges(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # not an IP peer (a unix socket): no proxy of ours
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack server sees IPv4 peers as ::ffff:a.b.c.d
        return any(ip in network for network in self.networks)


_trusted: TrustedProxies | None = None


def trusted_proxies() -> TrustedProxies:
    """The trusted proxies: TRUSTED_PROXY_CIDRS as the service's settings read it at start
    (`trust_proxies`, called by `run_service`), the default ranges in a process that set none."""
    global _trusted
    if _trusted is None:
        _trusted = TrustedProxies(DEFAULT_TRUSTED_PROXY_CIDRS)
    return _trusted


def trust_proxies(cidrs: str | None) -> None:
    """Use these ranges from now on (None: the default ranges)."""
    global _trusted
    _trusted = None if cidrs is None else TrustedProxies(cidrs)


def last_forwarded_for(header: str) -> str:
    """The address Envoy saw (the last X-Forwarded-For entry), "" when there is none."""
    entries = [part.strip() for part in header.split(",") if part.strip()]
    return entries[-1][:64] if entries else ""


def _peer_ip(peer: str) -> str:
    # grpc peers look like "ipv4:127.0.0.1:5555" or "ipv6:[::1]:5555".
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer


def request_meta(context: grpc.aio.ServicerContext) -> RequestMeta:
    metadata = {key: str(value) for key, value in (context.invocation_metadata() or ())}
    peer = _peer_ip(context.peer() or "")
    forwarded = metadata.get("x-forwarded-for", "")
    ip = (last_forwarded_for(forwarded) if forwarded and trusted_proxies().trusts(peer) else "") or peer
    # Envoy passes the browser's user agent through transcoding; grpc appends its own to it.
    agent = metadata.get("x-original-user-agent") or metadata.get("user-agent", "")
    return RequestMeta(ip=ip[:64], user_agent=agent[:300], request_id=request_id_var.get())
