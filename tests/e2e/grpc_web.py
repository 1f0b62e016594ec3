"""A minimal gRPC-Web client over HTTP/1.1 (what a browser sends), for the tests and bench."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from google.protobuf.message import Message


@dataclass
class GrpcWebReply:
    http_status: int
    grpc_status: int
    grpc_message: str
    messages: list[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)


def split_frames(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete gRPC-Web frames (flags, payload) at the start of `buffer`, and what is left."""
    frames: list[tuple[int, bytes]] = []
    while len(buffer) >= 5:
        flags, length = struct.unpack(">BI", buffer[:5])
        if len(buffer) < 5 + length:
            break
        frames.append((flags, buffer[5 : 5 + length]))
        buffer = buffer[5 + length :]
    return frames, buffer


def call(url: str, request: Message, headers: dict[str, str] | None = None) -> GrpcWebReply:
    payload = request.SerializeToString()
    reply = httpx.post(
        url,
        content=struct.pack(">BI", 0, len(payload)) + payload,
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **(headers or {})},
    )
    messages: list[bytes] = []
    trailers: dict[str, str] = {}
    frames, _ = split_frames(reply.content)
    for flag, frame in frames:
        if flag & 0x80:
            for line in frame.decode().split("\r\n"):
                if ":" in line:
                    key, value = line.split(":", 1)
                    trailers[key.strip().lower()] = value.strip()
        else:
            messages.append(frame)
    # A trailers-only answer carries the status in the headers.
    status = trailers.get("grpc-status", reply.headers.get("grpc-status", ""))
    message = trailers.get("grpc-message", reply.headers.get("grpc-message", ""))
    return GrpcWebReply(
        reply.status_code, int(status) if status else -1, message, messages, dict(reply.headers), trailers
    )


def stream(url: str, request: Message, headers: dict[str, str], timeout_s: float) -> Iterator[bytes]:
    """A server stream's messages as they arrive (what a browser's fetch stream sees), for as long
    as the caller reads; fails on a trailer before the caller stopped."""
    payload = request.SerializeToString()
    with httpx.stream(
        "POST",
        url,
        content=struct.pack(">BI", 0, len(payload)) + payload,
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **headers},
        timeout=timeout_s,
    ) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers.get("grpc-status", "0") == "0", reply.headers.get("grpc-message")
        buffer = b""
        for chunk in reply.iter_bytes():
            frames, buffer = split_frames(buffer + chunk)
            for flags, frame in frames:
                if flags & 0x80:
                    raise AssertionError(f"stream ended early: {frame.decode(errors='replace')}")
                yield frame
