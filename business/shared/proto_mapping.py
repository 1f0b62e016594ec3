"""Proto mapping helpers shared by the business handler modules."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from business.audit.domain import Client
from service_runtime.request_meta import request_meta

# The servicer context of a grpc.aio call (a short name keeps handler signatures on one line).
Context: TypeAlias = grpc.aio.ServicerContext


def client_of(context: Context) -> Client:
    """Who is calling, for the audit log, sessions and throttling (Envoy's view of the address)."""
    meta = request_meta(context)
    return Client(meta.ip, meta.user_agent, meta.request_id)
