"""Fernet encryption of secrets at rest."""

from __future__ import annotations

import pytest

from business.identity.domain.secret_box import SecretBox


def test_round_trip_and_ciphertext_hides_the_secret() -> None:
    box = SecretBox(SecretBox.generate_key())
    token = box.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in token
    assert token != box.encrypt("JBSWY3DPEHPK3PXP")  # random IV
    assert box.decrypt(token) == "JBSWY3DPEHPK3PXP"


def test_wrong_key_or_tampering_is_a_value_error() -> None:
    token = SecretBox(SecretBox.generate_key()).encrypt("secret")
    with pytest.raises(ValueError):
        SecretBox(SecretBox.generate_key()).decrypt(token)
    box = SecretBox(SecretBox.generate_key())
    good = box.encrypt("secret")
    tampered = good[:-6] + ("A" if good[-6] != "A" else "B") + good[-5:]
    with pytest.raises(ValueError):
        box.decrypt(tampered)
    with pytest.raises(ValueError):
        box.decrypt("not a token")


def test_bad_keys_are_refused() -> None:
    for bad in ("", "short", "é" * 44):
        with pytest.raises(ValueError):
            SecretBox(bad)


def test_key_rotation_new_key_first_old_still_decrypts() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    legacy = SecretBox(old).encrypt("secret")
    rotated = SecretBox(f"{new},{old}")
    assert rotated.decrypt(legacy) == "secret"
    assert SecretBox(new).decrypt(rotated.encrypt("secret")) == "secret"
