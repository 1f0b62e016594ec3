"""Who is on the other end of a call, as far as we can tell: address, user agent, request id.

Envoy runs with use_remote_address, so the last x-forwarded-for entry is the address Envoy
itself saw; earlier entries come from the client and are not trusted. A call that reached the
service port directly has no such header and is described by its peer address.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from service_runtime.context import request_id_var


@dataclass(frozen=True)
class RequestMeta:
    ip: str
    user_agent: str
    request_id: str


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
    ip = last_forwarded_for(metadata.get("x-forwarded-for", "")) or _peer_ip(context.peer() or "")
    # Envoy passes the browser's user agent through transcoding; grpc appends its own to it.
    agent = metadata.get("x-original-user-agent") or metadata.get("user-agent", "")
    return RequestMeta(ip=ip[:64], user_agent=agent[:300], request_id=request_id_var.get())
