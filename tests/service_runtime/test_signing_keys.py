"""SigningKeyStore: parsed keys are kept per kid, and rotations still switch the signing key."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from service_runtime import signing_keys
from service_runtime.signing_keys import KEEP_KEYS, SigningKeyStore

CLAIMS = {"sub": "someone", "iat": 1, "exp": 2**31 - 1}


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_a_key_is_read_and_parsed_once_however_many_tokens_it_signs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[bytes] = []
    load = serialization.load_pem_private_key

    def counting_load(data: bytes, password: bytes | None) -> object:
        parsed.append(data)
        return load(data, password)

    store = SigningKeyStore(tmp_path)
    store.ensure()
    monkeypatch.setattr(signing_keys.serialization, "load_pem_private_key", counting_load)

    tokens = [store.sign(CLAIMS) for _ in range(5)]

    assert len(parsed) == 1
    public = store.public_keys()[kid_of(tokens[0])]
    assert all(jwt.decode(t, public, algorithms=["EdDSA"])["sub"] == "someone" for t in tokens)


def test_each_rotation_signs_with_its_new_key_and_dropped_keys_are_forgotten(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)  # no activation delay: a new key signs at once
    store.ensure()
    for _ in range(4 * KEEP_KEYS):
        kid = store.rotate()
        token = store.sign(CLAIMS)

        assert kid_of(token) == kid
        jwt.decode(token, store.public_keys()[kid], algorithms=["EdDSA"])
    published = {path.stem for path in tmp_path.glob("*.pem")}
    assert len(published) == KEEP_KEYS
    # What is kept parsed never grows past a few rotations' worth, whatever the number of rotations.
    assert len(store._parsed) <= 2 * KEEP_KEYS


def test_a_published_key_waits_for_its_activation_delay(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path, activation_delay_s=3600)
    first = store.rotate()
    assert kid_of(store.sign(CLAIMS)) == first  # a fresh store's only key signs at once
    second = store.rotate()

    assert kid_of(store.sign(CLAIMS)) == first
    assert {first, second} <= set(store.public_keys())
