"""The client address of a call (per-address limits, the audit log): X-Forwarded-For counts only
from a trusted proxy (TRUSTED_PROXY_CIDRS); any other caller is known by its peer address."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from pydantic import ValidationError

from service_runtime import request_meta as meta_module
from service_runtime.config import CommonSettings
from service_runtime.request_meta import (
    DEFAULT_TRUSTED_PROXY_CIDRS,
    TrustedProxies,
    parse_cidrs,
    request_meta,
    trust_proxies,
    trusted_proxies,
)


@pytest.fixture(autouse=True)
def configured_again() -> Iterator[None]:
    """Each test starts and leaves with the default ranges."""
    trust_proxies(None)
    yield
    trust_proxies(None)


class FakeContext:
    """The two things request_meta reads from a grpc.aio context."""

    def __init__(self, peer: str, forwarded_for: str = "") -> None:
        self._peer = peer
        self._metadata = (("x-forwarded-for", forwarded_for),) if forwarded_for else ()

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> Any:
        return self._metadata


def ip_of(peer: str, forwarded_for: str = "") -> str:
    return request_meta(FakeContext(peer, forwarded_for)).ip


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        # Envoy on this host (make run) or in the cluster's pod network: its X-Forwarded-For counts,
        # its own last entry only.
        ("ipv4:127.0.0.1:5555", "198.51.100.7"),
        ("ipv6:[::1]:5555", "198.51.100.7"),
        ("ipv4:10.42.0.17:5555", "198.51.100.7"),
        ("ipv4:172.20.3.4:5555", "198.51.100.7"),
        ("ipv4:192.168.1.9:5555", "198.51.100.7"),
        ("ipv6:[fd00::12]:5555", "198.51.100.7"),
        ("ipv6:[::ffff:127.0.0.1]:5555", "198.51.100.7"),  # a dual-stack server's IPv4 peer
        # Anyone else reaching the port directly names no address of its choosing.
        ("ipv4:203.0.113.50:5555", "203.0.113.50"),
        ("ipv4:172.32.0.1:5555", "172.32.0.1"),
        ("ipv6:[2001:db8::5]:5555", "2001:db8::5"),
        ("ipv6:[::ffff:203.0.113.50]:5555", "::ffff:203.0.113.50"),
        ("unix:/run/business.sock", "unix:/run/business.sock"),
    ],
)
def test_forwarded_for_counts_only_from_a_trusted_proxy(peer: str, expected: str) -> None:
    assert ip_of(peer, "10.9.9.9, 198.51.100.7") == expected


def test_without_the_header_the_peer_is_the_client() -> None:
    assert ip_of("ipv4:127.0.0.1:5555") == "127.0.0.1"
    assert ip_of("ipv4:203.0.113.50:5555") == "203.0.113.50"


def test_the_ranges_come_from_trusted_proxy_cidrs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXY_CIDRS", "192.0.2.0/24, 2001:db8::1")
    trust_proxies(CommonSettings(_env_file=None).trusted_proxy_cidrs)  # as run_service does
    assert ip_of("ipv4:192.0.2.10:1", "198.51.100.7") == "198.51.100.7"
    assert ip_of("ipv6:[2001:db8::1]:1", "198.51.100.7") == "198.51.100.7"
    assert ip_of("ipv4:127.0.0.1:1", "198.51.100.7") == "127.0.0.1"  # loopback no longer trusted
    monkeypatch.setenv("TRUSTED_PROXY_CIDRS", "")
    trust_proxies(CommonSettings(_env_file=None).trusted_proxy_cidrs)
    assert ip_of("ipv4:127.0.0.1:1", "198.51.100.7") == "127.0.0.1"  # empty: nobody is trusted


def test_the_default_ranges_are_loopback_and_private() -> None:
    assert trusted_proxies().networks == parse_cidrs(DEFAULT_TRUSTED_PROXY_CIDRS)
    assert CommonSettings(_env_file=None).trusted_proxy_cidrs == DEFAULT_TRUSTED_PROXY_CIDRS


def test_a_bad_range_stops_the_start_naming_it() -> None:
    with pytest.raises(ValidationError, match=re.escape("TRUSTED_PROXY_CIDRS: '10.0.0.0/33'")):
        CommonSettings(_env_file=None, trusted_proxy_cidrs="127.0.0.0/8, 10.0.0.0/33")
    with pytest.raises(ValueError, match="'envoy'"):
        parse_cidrs("envoy")


def test_verdicts_are_remembered_per_peer_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    proxies = TrustedProxies("127.0.0.0/8")
    checked: list[str] = []
    in_ranges = proxies._in_ranges

    def counting(address: str) -> bool:
        checked.append(address)
        return in_ranges(address)

    monkeypatch.setattr(proxies, "_in_ranges", counting)
    assert all(proxies.trusts("127.0.0.1") for _ in range(100))
    assert checked == ["127.0.0.1"]  # parsed once, whatever the number of calls
    monkeypatch.setattr(meta_module, "PEERS_KEPT", 10)
    for n in range(50):
        assert not proxies.trusts(f"203.0.113.{n}")
    assert len(proxies._verdicts) <= 10


@pytest.fixture
async def echo_server() -> AsyncIterator[grpc.aio.Channel]:
    """A real gRPC server whose one method answers the client address request_meta finds."""

    async def whoami(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request_meta(context).ip.encode()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Meta", {"WhoAmI": grpc.unary_unary_rpc_method_handler(whoami)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(None)


async def test_a_direct_caller_cannot_pick_its_address(echo_server: grpc.aio.Channel) -> None:
    whoami = echo_server.unary_unary("/test.Meta/WhoAmI")
    # Loopback is a proxy by default (make run's Envoy): its header is believed.
    assert await whoami(b"", metadata=(("x-forwarded-for", "198.51.100.7"),)) == b"198.51.100.7"
    # A deployment whose proxies are elsewhere: a caller on loopback is not one of them, and a new
    # X-Forwarded-For on every call (what escaped the per-address send and sign-in limits) changes
    # nothing.
    trust_proxies("192.0.2.0/24")
    seen = {await whoami(b"", metadata=(("x-forwarded-for", f"10.66.0.{n}"),)) for n in range(30)}
    assert seen == {b"127.0.0.1"}
