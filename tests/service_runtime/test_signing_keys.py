"""SigningKeyStore: parsed keys are kept per kid, and rotations still switch the signing key."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from service_runtime import signing_keys
from service_runtime.signing_keys import KEEP_KEYS, RotationTooSoon, SigningKeyStore

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


def _published_ago(store: SigningKeyStore, seconds: float) -> str:
    """A key as if rotated in `seconds` ago (kids start with their creation time)."""
    kid = SigningKeyStore(store.folder / "new").rotate()
    aged = f"{time.time_ns() - int(seconds * 1e9):020d}-{kid.split('-', 1)[1]}"
    (store.folder / "new" / f"{kid}.pem").rename(store.folder / f"{aged}.pem")
    return aged


def test_a_rotation_is_refused_while_the_last_ones_key_waits_to_sign(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path, activation_delay_s=300)
    signing = _published_ago(store, 3600)
    waiting = store.rotate()  # published now, signs in 300 s
    # `make admin-keys` run again at once: a third key would push the signing key out of the folder
    # and make `waiting`, which Envoy's cached JWKS may not hold yet, sign at once.
    with pytest.raises(RotationTooSoon, match=f"key {waiting} .* rotate again in 30\\d s"):
        store.rotate()
    assert {path.stem for path in tmp_path.glob("*.pem")} == {signing, waiting}
    assert kid_of(store.sign(CLAIMS)) == signing


def test_forced_rotations_never_delete_the_signing_key(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path, activation_delay_s=300)
    signing = _published_ago(store, 3600)
    newer = [store.rotate(force=True) for _ in range(KEEP_KEYS)]
    assert {path.stem for path in tmp_path.glob("*.pem")} == {signing, *newer}
    assert kid_of(store.sign(CLAIMS)) == signing  # not a key published seconds ago


def test_a_rotation_after_the_delay_or_from_a_fresh_store_is_allowed(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path, activation_delay_s=300)
    first = store.rotate()
    second = store.rotate()  # the first key already signs (a fresh store's only key): no wait
    assert kid_of(store.sign(CLAIMS)) == first
    with pytest.raises(RotationTooSoon):
        store.rotate()
    for path in tmp_path.glob("*.pem"):  # 301 s later
        aged = f"{int(path.stem.split('-', 1)[0]) - 301 * 10**9:020d}-{path.stem.split('-', 1)[1]}"
        path.rename(tmp_path / f"{aged}.pem")
    third = store.rotate()
    assert kid_of(store.sign(CLAIMS)).endswith(second.split("-", 1)[1]) and third in store.public_keys()
