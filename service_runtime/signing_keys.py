"""Ed25519 signing keys for access tokens, kept as PEM files named by key id (kid).

A rotation publishes the new key before anyone signs with it: a key signs only once it is
`activation_delay_s` old (set it to the JWKS cache time of Envoy and the services), so every
verifier has it by then. Until then the previous key keeps signing. The JWKS holds the next
key (if any), the current one and the previous one, so tokens signed just before a switch stay
valid until they expire. Rotate at most once per access-token lifetime plus that delay: a
rotation is refused while the last one's key is still waiting to sign (a third key published in
that time would push the signing key out of the folder, and a key no verifier has fetched yet
would sign at once), unless forced; even forced, the key signing now is never deleted.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEEP_KEYS = 3  # next (published, not signing yet) + current + previous


class RotationTooSoon(RuntimeError):
    """The newest key does not sign yet: another rotation now would cut its wait short."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _created_at(path: Path) -> float:
    # kids start with the creation time in nanoseconds.
    return int(path.stem.split("-", 1)[0]) / 1e9


class SigningKeyStore:
    def __init__(self, folder: Path, activation_delay_s: float = 0.0) -> None:
        self.folder = folder
        self.activation_delay_s = activation_delay_s
        # kid -> its parsed key. A kid names one key for good (a creation time and a random
        # part, the file written once), so a key read once needs no second read; reading and
        # parsing the PEM was half of what signing a token cost.
        self._parsed: dict[str, Ed25519PrivateKey] = {}

    def _paths(self) -> list[Path]:
        # kids start with a zero-padded creation time, so name order is age order.
        return sorted(self.folder.glob("*.pem"))

    def ensure(self) -> None:
        """Create the first key if the folder has none."""
        if not self._paths():
            self.rotate()

    def rotate(self, *, force: bool = False) -> str:
        """Publish a new key (it signs after activation_delay_s) and drop all but the newest
        KEEP_KEYS, never the key signing now. Returns the new kid. Raises RotationTooSoon while
        the key of the previous rotation is still waiting to sign, unless `force`."""
        if not force:
            self._check_rotation_allowed()
        self.folder.mkdir(parents=True, exist_ok=True)
        kid = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.folder / f"{kid}.pem"
        # Private key: readable by its owner only, written atomically.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        tmp.rename(path)
        # Deleting the signing key would make the oldest key left sign, possibly one published
        # seconds ago that Envoy's cached JWKS does not hold yet.
        signing = self.current_path()
        for old in self._paths()[:-KEEP_KEYS]:
            if old != signing:
                old.unlink()
        return kid

    def _check_rotation_allowed(self) -> None:
        paths = self._paths()
        if not paths:
            return
        newest = paths[-1]
        wait_s = self.activation_delay_s - (time.time() - _created_at(newest))
        if wait_s > 0 and newest != self.current_path():
            raise RotationTooSoon(
                f"key {newest.stem} was published {self.activation_delay_s - wait_s:.0f} s ago and signs "
                f"only after JWT_KEY_ACTIVATION_DELAY_S ({self.activation_delay_s:.0f} s): rotate again "
                f"in {wait_s:.0f} s (forced, the key signing now stays, but the previous one may leave "
                "the JWKS and its tokens be refused)"
            )

    def _load(self, path: Path) -> Ed25519PrivateKey:
        key = self._parsed.get(path.stem)
        if key is None:
            parsed = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(parsed, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 key")
            key = self._parsed.setdefault(path.stem, parsed)
            if len(self._parsed) > KEEP_KEYS * 2:  # keys dropped by rotations are never read again
                live = {p.stem for p in self._paths()}
                self._parsed = {kid: k for kid, k in self._parsed.items() if kid in live or kid == path.stem}
        return key

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """kid → public key of every published key (what the JWKS holds)."""
        return {path.stem: self._load(path).public_key() for path in self._paths()}

    def jwks(self) -> dict[str, Any]:
        keys = []
        for path in reversed(self._paths()):
            public = (
                self._load(path)
                .public_key()
                .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            )
            keys.append(
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "alg": "EdDSA",
                    "use": "sig",
                    "kid": path.stem,
                    "x": _b64url(public),
                }
            )
        return {"keys": keys}

    def current_path(self) -> Path:
        """The signing key: the newest one published for at least activation_delay_s, or the
        oldest there is (a fresh store's only key signs at once)."""
        paths = self._paths()
        if not paths:
            raise RuntimeError(f"no signing key in {self.folder}")
        ready = [p for p in paths if time.time() - _created_at(p) >= self.activation_delay_s]
        return ready[-1] if ready else paths[0]

    def sign(self, claims: dict[str, Any]) -> str:
        current = self.current_path()
        return jwt.encode(claims, self._load(current), algorithm="EdDSA", headers={"kid": current.stem})
