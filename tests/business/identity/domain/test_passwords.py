"""Password policy and argon2id hashing, on the real argon2 library."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any, Literal

import argon2
import nacl.pwhash.argon2id
import pytest
from argon2.exceptions import VerifyMismatchError

from business.identity.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Argon2idHasher,
    PasswordHasher,
    check_password_policy,
    common_passwords,
)
from service_runtime.errors import InvalidArgument

# Cheap parameters keep the suite fast; the defaults are checked separately.
FAST = {"time_cost": 1, "memory_kib": 1024, "parallelism": 1}


def violation(password: str, **kwargs: str) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        check_password_policy(password, **kwargs)
    only = caught.value.violations[0]
    return only.field, only.description


def test_a_long_uncommon_password_passes() -> None:
    check_password_policy("correct horse battery staple", email="alice@example.com")


def test_too_short_and_too_long_name_the_field() -> None:
    assert violation("a" * (MIN_PASSWORD_LENGTH - 1)) == (
        "password",
        f"must be at least {MIN_PASSWORD_LENGTH} characters",
    )
    check_password_policy("Zq8#" * 3)  # exactly the minimum
    check_password_policy("x7" * (MAX_PASSWORD_LENGTH // 2))  # exactly the maximum
    field, why = violation("x" * (MAX_PASSWORD_LENGTH + 1), field="new_password")
    assert field == "new_password" and "at most 128" in why


@pytest.mark.parametrize("common", ["qwerty123456", "QWERTY123456", "1q2w3e4r5t6y", "QwertyUiop123"])
def test_common_passwords_are_refused_case_insensitively(common: str) -> None:
    assert common.lower() in common_passwords()
    field, why = violation(common)
    assert field == "password" and "commonly used" in why


def test_the_common_list_is_zxcvbns_30k_passwords() -> None:
    assert len(common_passwords()) > 29_000
    assert "password" in common_passwords()


def test_email_local_part_is_refused() -> None:
    field, why = violation("my-AliceSmith-2024!", email="alicesmith@example.com", field="new_password")
    assert field == "new_password" and "email" in why
    check_password_policy("my-AliceSmith-2024!", email="bob@example.com")
    check_password_policy("al is short for something", email="al@example.com")  # too short to matter


def test_hash_and_verify_round_trip() -> None:
    hasher = PasswordHasher(**FAST)
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert hasher.verify(stored, "correct horse battery staple")
    assert not hasher.verify(stored, "correct horse battery stapler")
    assert stored != hasher.hash("correct horse battery staple")  # salted


def test_default_parameters_are_owasps_baseline() -> None:
    stored = PasswordHasher().hash("correct horse battery staple")
    assert "$argon2id$v=19$m=19456,t=2,p=1$" in stored


def test_malformed_stored_hash_is_a_mismatch_not_a_crash() -> None:
    hasher = PasswordHasher(**FAST)
    assert not hasher.verify("not-a-hash", "whatever password")
    assert hasher.needs_rehash("not-a-hash")


def test_hashes_interchange_with_argon2_cffi_both_ways() -> None:
    ours = Argon2idHasher(time_cost=2, memory_cost=8192, parallelism=1)
    reference = argon2.PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    made_by_us = ours.hash("correct horse battery staple")
    assert made_by_us.startswith("$argon2id$v=19$m=8192,t=2,p=1$")
    assert reference.verify(made_by_us, "correct horse battery staple")
    assert not reference.check_needs_rehash(made_by_us)
    assert ours.verify(reference.hash("correct horse battery staple"), "correct horse battery staple")
    with pytest.raises(VerifyMismatchError):
        ours.verify(made_by_us, "correct horse battery stapler")


def test_libsodium_does_the_argon2id_work(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("str", "verify"):
        real = getattr(nacl.pwhash.argon2id, name)

        def counted(*args: object, _real: Any = real, _name: str = name, **kwargs: object) -> object:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(nacl.pwhash.argon2id, name, counted)
    hasher = PasswordHasher(**FAST)
    stored = hasher.hash("correct horse battery staple")
    assert hasher.verify(stored, "correct horse battery staple")
    assert calls == ["str", "verify"]
    # What libsodium does not take goes to argon2-cffi: argon2i, and hashing with two lanes.
    argon2i = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=argon2.Type.I)
    assert hasher.verify(argon2i.hash("correct horse battery staple"), "correct horse battery staple")
    two_lanes = PasswordHasher(time_cost=1, memory_kib=1024, parallelism=2)
    assert "p=2$" in two_lanes.hash("correct horse battery staple")
    assert calls == ["str", "verify"]


def test_malformed_argon2id_hashes_are_mismatches() -> None:
    hasher = PasswordHasher(**FAST)
    stored = hasher.hash("correct horse battery staple")
    for broken in (
        stored[:-4],
        "$argon2id$v=19$m=1024,t=1,p=1$abc$def",
        "$argon2id$v=19$" + "A" * 200,
        stored + "é",
    ):
        assert not hasher.verify(broken, "correct horse battery staple")


class CountingArgon(Argon2idHasher):
    """The real argon2 hasher, remembering which hashes it was asked to verify."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1, type=argon2.Type.ID)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


def test_unknown_account_still_runs_argon2_with_the_same_parameters() -> None:
    hasher = PasswordHasher(**FAST)
    counting = CountingArgon()
    hasher.argon = counting
    assert hasher.verify(None, "correct horse battery staple") is False
    assert len(counting.verified) == 1
    dummy = counting.verified[0]
    assert dummy == hasher.dummy_hash
    assert not counting.check_needs_rehash(dummy)  # same parameters as real hashes
    assert hasher.verify(None, "") is False
    assert len(counting.verified) == 2


def test_needs_rehash_for_other_parameters() -> None:
    current = PasswordHasher(**FAST)
    assert not current.needs_rehash(current.hash("correct horse battery staple"))
    weaker = PasswordHasher(time_cost=1, memory_kib=512, parallelism=1)
    old = weaker.hash("correct horse battery staple")
    assert current.needs_rehash(old)
    assert current.verify(old, "correct horse battery staple")  # still verifies, then gets upgraded
    argon2i = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=argon2.Type.I)
    assert current.needs_rehash(argon2i.hash("correct horse battery staple"))


class OverlapArgon(Argon2idHasher):
    """The real argon2 hasher, recording the most verifications that ran at the same time and
    the threads they ran on."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1, type=argon2.Type.ID)
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads: set[str] = set()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            time.sleep(0.02)  # hold the slot so that overlapping calls can be seen
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def test_async_hashing_runs_in_its_own_bounded_pool() -> None:
    hasher = PasswordHasher(**FAST, workers=2)
    stored = hasher.hash("correct horse battery staple")
    counting = OverlapArgon()
    hasher.argon = counting

    async def burst() -> list[bool]:
        good = [hasher.verify_async(stored, "correct horse battery staple") for _ in range(6)]
        bad = [hasher.verify_async(stored, "wrong horse battery staple") for _ in range(2)]
        return list(await asyncio.gather(*good, *bad))

    try:
        answers = asyncio.run(burst())
        assert answers == [True] * 6 + [False] * 2
        assert counting.most == 2  # eight at once, never more than the pool's two
        assert all(name.startswith("argon2") for name in counting.threads)
        new = asyncio.run(hasher.hash_async("another horse battery staple"))
        assert hasher.verify(new, "another horse battery staple")
    finally:
        hasher.close()


def test_pool_defaults_to_one_worker_per_core() -> None:
    assert PasswordHasher(**FAST).workers == (os.cpu_count() or 1)
