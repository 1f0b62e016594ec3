"""Password policy and argon2id hashing.

Policy (NIST SP 800-63B): length matters, composition rules do not. A password must be
12..128 characters, must not be one of the 30,000 most common passwords (zxcvbn's bundled
frequency list, compared case-insensitively) and must not contain the account's email local
part. 128 is a generous cap that still bounds the hashing work an attacker can ask for.

Hashing parameters: argon2id with m=19 MiB (19456 KiB), t=2, p=1 — OWASP's Password Storage
Cheat Sheet baseline. argon2id resists both GPU cracking (memory-hard) and side channels;
19 MiB keeps one verification around tens of milliseconds and bounds the memory a burst of
logins can take on a small service, while t=2 makes up for the modest memory. Hashes made with
other parameters still verify, and `needs_rehash` tells the caller to upgrade them at the next
successful login.

Implementation: argon2id is computed by libsodium (PyNaCl), argon2-cffi parses parameters and
takes what libsodium does not (argon2i/argon2d hashes, hashing with p>1). Same algorithm, same
parameters, same PHC strings, interchangeable both ways (tested); libsodium picks an AVX2 or
AVX-512 block fill at run time where argon2-cffi's wheels carry a portable one, so one verify at
the defaults takes about half the time (bench/auth.py, docs/identity.md).

Concurrency: hashes run in a pool of their own, `workers` threads (default: one per CPU core).
Both libraries release the GIL, so the event loop keeps serving while hashes run; the pool bounds
how many run at once (more threads than cores only thrash 19 MiB working sets in the caches and
stretch every login), and being separate from the default executor it never makes the database
work of other requests queue behind a burst of logins. Waiting hashes queue in arrival order.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Literal

import argon2
import nacl.exceptions
import nacl.pwhash.argon2id as sodium_argon2id
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from service_runtime.errors import InvalidArgument

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
_MIN_EMAIL_PART = 3  # shorter local parts ("al@...") match too many passwords by chance


@cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's 30k most common passwords, lower-cased; loaded once, on first use."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def given_password(password: str, field: str) -> str:
    """A password typed into `field`: present, and short enough to hash."""
    if not password:
        raise InvalidArgument.field(field, "is required")
    if len(password) > MAX_PASSWORD_LENGTH:
        # Checked before hashing: argon2 on megabytes of input would be a cheap DoS.
        raise InvalidArgument.field(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


def check_password_policy(password: str, *, field: str = "password", email: str = "") -> None:
    """Raise InvalidArgument naming `field` when the password breaks the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument.field(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords():
        raise InvalidArgument.field(field, "is a commonly used password; choose another")
    local_part = email.partition("@")[0].strip().lower()
    if len(local_part) >= _MIN_EMAIL_PART and local_part in lowered:
        raise InvalidArgument.field(field, "must not contain your email address")


class Argon2idHasher(argon2.PasswordHasher):
    """argon2-cffi's hasher whose argon2id work is done by libsodium (module docstring: why)."""

    _SODIUM_PREFIX = b"$argon2id$v=19$"

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        if salt is not None or (self.type, self.parallelism, self.salt_len, self.hash_len) != (
            argon2.Type.ID,
            1,
            16,
            32,
        ):  # libsodium writes p=1, its own 16-byte salt and a 32-byte hash, nothing else
            return super().hash(password, salt=salt)
        encoded = sodium_argon2id.str(
            _utf8(password), opslimit=self.time_cost, memlimit=self.memory_cost * 1024
        )
        return encoded.decode("ascii")

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        encoded = hash.encode("ascii", "replace") if isinstance(hash, str) else hash
        if not encoded.startswith(self._SODIUM_PREFIX):
            return super().verify(hash, password)
        try:
            sodium_argon2id.verify(encoded, _utf8(password))
        except (nacl.exceptions.InvalidkeyError, nacl.exceptions.ValueError) as refused:
            # libsodium says the same for a wrong password and an undecodable hash.
            raise VerifyMismatchError(str(refused)) from refused
        return True


def _utf8(text: str | bytes) -> bytes:
    return text.encode() if isinstance(text, str) else text


class PasswordHasher:
    """argon2id hashes; verifying an unknown account costs the same as a known one."""

    def __init__(
        self, time_cost: int = 2, memory_kib: int = 19456, parallelism: int = 1, workers: int = 0
    ) -> None:
        self.argon = Argon2idHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=argon2.Type.ID
        )
        self._dummy_hash: str | None = None
        # Hashes running at once: one per core unless told (0), never fewer than one.
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:  # made on first use: the CLI and most tests never need threads
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="argon2")
        return self._pool

    async def hash_async(self, password: str) -> str:
        """`hash` in the hashing pool, without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor(), self.hash, password)

    async def verify_async(self, stored_hash: str | None, password: str) -> bool:
        """`verify` in the hashing pool, without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), self.verify, stored_hash, password
        )

    def close(self) -> None:
        """Stops the pool's threads (after the hashes in flight)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    @property
    def dummy_hash(self) -> str:
        """A hash with this hasher's parameters, of a password no one knows (made on first use)."""
        if self._dummy_hash is None:
            import secrets

            self._dummy_hash = self.argon.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

    def hash(self, password: str) -> str:
        return self.argon.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches. CPU-bound: from async code, await `verify_async`."""
        if stored_hash is None:
            self._check(self.dummy_hash, password)
            return False
        return self._check(stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self.argon.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True

    def _check(self, stored_hash: str, password: str) -> bool:
        try:
            return self.argon.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
