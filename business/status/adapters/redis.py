"""The Redis probe of the platform's health. Redis is optional (REDIS_URL): without it the service
works on in-process state and the probe says so."""

from __future__ import annotations

import redis.asyncio as aioredis

from service_runtime.health import disabled, timed_probe
from trading.common.v1 import health_pb2


class RedisProbe:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client: aioredis.Redis | None = (
            aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2) if url else None
        )

    async def probe(self) -> health_pb2.DependencyHealth:
        client = self.client
        if client is None:
            return disabled("redis", "REDIS_URL not set: in-process state")

        async def ping() -> str:
            await client.ping()
            host = client.connection_pool.connection_kwargs.get("host", "")
            port = client.connection_pool.connection_kwargs.get("port", "")
            return f"redis {host}:{port}"

        return await timed_probe("redis", ping)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
