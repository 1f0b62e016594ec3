"""JWKS publication, dev tokens and key rotation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.keys_cli import main as keys_cli
from service_runtime.signing_keys import SigningKeyStore
from tests.gateway.conftest import LOCAL_PEER, MakeSettings


def _verify(token: str, jwks: dict[str, Any], settings: GatewaySettings) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwt.PyJWK.from_dict(jwk).key
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    return claims


def test_jwks_has_an_ed25519_key_with_kid(client: TestClient, settings: GatewaySettings) -> None:
    res = client.get("/.well-known/jwks.json")
    assert res.status_code == 200
    assert res.headers["cache-control"] == f"public, max-age={settings.jwks_max_age_s}"
    (key,) = res.json()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA"
    assert key["kid"] and key["x"]
    assert "d" not in key  # never the private part


def test_dev_token_verifies_against_the_jwks(client: TestClient, settings: GatewaySettings) -> None:
    res = client.post("/api/auth/dev-token")
    assert res.status_code == 200
    body = res.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    claims = _verify(body["access_token"], client.get("/.well-known/jwks.json").json(), settings)
    assert claims["sub"] == "dev-user" and claims["roles"] == ["user"] and claims["plan"] == "free"
    assert claims["iss"] == "trading-platform" and claims["aud"] == "trading-api"
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["nbf"] == claims["iat"] and abs(claims["iat"] - time.time()) < 5
    assert len(claims["jti"]) == 32


def test_rotation_publishes_the_new_key_before_it_signs(make_settings: MakeSettings) -> None:
    # 2 s: room for the three calls below on a slow host before the new key signs.
    settings = make_settings(dev_tokens_enabled=True, jwt_key_activation_delay_s=2.0)
    client = TestClient(create_app(settings), client=LOCAL_PEER)
    old_token = client.post("/api/auth/dev-token").json()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    # Rotated by another process (the CLI): the running app publishes it without restart.
    new_kid = SigningKeyStore(Path(settings.jwt_keys_dir)).rotate()
    jwks = client.get("/.well-known/jwks.json").json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    # Published, not yet signing: verifiers with a cached JWKS would not know it.
    assert (
        jwt.get_unverified_header(client.post("/api/auth/dev-token").json()["access_token"])["kid"] == old_kid
    )
    time.sleep(2.1)
    new_token = client.post("/api/auth/dev-token").json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    jwks = client.get("/.well-known/jwks.json").json()
    assert _verify(old_token, jwks, settings)["sub"] == "dev-user"
    assert _verify(new_token, jwks, settings)["sub"] == "dev-user"


def test_jwks_keeps_next_current_and_previous_keys(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path / "keys")
    kids = [store.rotate() for _ in range(4)]
    assert [k["kid"] for k in store.jwks()["keys"]] == kids[:0:-1]
    assert store.current_path().stem == kids[-1]  # no activation delay: the newest signs


def test_dev_token_is_404_when_disabled(make_settings: MakeSettings) -> None:
    client = TestClient(create_app(make_settings(dev_tokens_enabled=False)))
    res = client.post("/api/auth/dev-token")
    assert res.status_code == 404
    assert res.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("peer", "headers"),
    [
        # Straight from another host.
        (("192.0.2.7", 40000), {}),
        (("192.0.2.7", 40000), {"x-envoy-external-address": "127.0.0.1", "x-forwarded-for": "127.0.0.1"}),
        # Through Envoy on this host from another host: Envoy says where from, whatever was sent.
        (LOCAL_PEER, {"x-envoy-external-address": "192.0.2.7", "x-forwarded-for": "127.0.0.1,192.0.2.2"}),
        # Only Envoy's own (last) X-Forwarded-For entry counts, never the client's earlier ones.
        (LOCAL_PEER, {"x-forwarded-for": "127.0.0.1, 203.0.113.9"}),
    ],
)
def test_dev_tokens_only_for_callers_on_this_host(
    settings: GatewaySettings, peer: tuple[str, int], headers: dict[str, str]
) -> None:
    client = TestClient(create_app(settings), client=peer)
    res = client.post("/api/auth/dev-token", headers=headers)
    assert res.status_code == 403, res.text
    assert res.json()["error"] == "permission_denied" and "access_token" not in res.json()


def test_dev_tokens_for_a_loopback_caller_through_envoy(settings: GatewaySettings) -> None:
    client = TestClient(create_app(settings), client=LOCAL_PEER)
    # What Envoy sends for a loopback caller: its address, and this host's in X-Forwarded-For.
    res = client.post(
        "/api/auth/dev-token",
        headers={"x-envoy-external-address": "127.0.0.1", "x-forwarded-for": "192.0.2.2"},
    )
    assert res.status_code == 200 and res.json()["access_token"]


def test_dev_tokens_refused_in_production(make_settings: MakeSettings) -> None:
    with pytest.raises(ValidationError, match="DEV_TOKENS_ENABLED"):
        make_settings(app_env="production", redis_url="redis://redis.invalid/0", dev_tokens_enabled=True)
    assert (
        make_settings(app_env="production", redis_url="redis://redis.invalid/0").dev_tokens_enabled is False
    )


@pytest.mark.parametrize("app_env", ["prod", "staging", "Production ", "qa", ""])
def test_dev_tokens_refused_outside_development_and_test(make_settings: MakeSettings, app_env: str) -> None:
    # Not only the exact word "production": any environment but make run's and the tests'.
    with pytest.raises(ValidationError, match="allowed only when APP_ENV is development or test"):
        make_settings(app_env=app_env, redis_url="redis://redis.invalid/0", dev_tokens_enabled=True)


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_dev_tokens_allowed_in_development_and_test(make_settings: MakeSettings, app_env: str) -> None:
    assert make_settings(app_env=app_env, dev_tokens_enabled=True).dev_tokens_enabled


def test_production_needs_redis(make_settings: MakeSettings) -> None:
    with pytest.raises(ValidationError, match="REDIS_URL is required"):
        make_settings(app_env="production")


def test_dev_tokens_refused_in_production_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("REDIS_URL", "redis://redis.invalid/0")
    monkeypatch.setenv("DEV_TOKENS_ENABLED", "true")
    with pytest.raises(ValidationError):
        GatewaySettings(_env_file=None)


def test_keys_cli_rotate_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = str(tmp_path / "cli-keys")
    assert keys_cli(["rotate", "--keys-dir", keys]) == 0
    kid = capsys.readouterr().out.strip()
    assert keys_cli(["show", "--keys-dir", keys]) == 0
    assert f'"kid": "{kid}"' in capsys.readouterr().out


def test_keys_cli_refuses_a_rotation_while_the_last_ones_key_waits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_KEY_ACTIVATION_DELAY_S", "300")
    keys = str(tmp_path / "cli-keys")
    assert keys_cli(["rotate", "--keys-dir", keys]) == 0  # the first key signs at once
    assert keys_cli(["rotate", "--keys-dir", keys]) == 0  # the next one waits 300 s
    waiting = capsys.readouterr().out.split()[-1]
    # Run again at once: refused, in one line, nothing written.
    assert keys_cli(["rotate", "--keys-dir", keys]) == 1
    out, err = capsys.readouterr()
    assert (
        out == "" and err.startswith(f"not rotated: key {waiting} was published") and "rotate --force" in err
    )
    assert len(list(Path(keys).glob("*.pem"))) == 2
    # Forced: done, and the key signing now stays however often it is forced.
    signing = SigningKeyStore(Path(keys), 300).current_path().stem
    for _ in range(3):
        assert keys_cli(["rotate", "--force", "--keys-dir", keys]) == 0
    assert SigningKeyStore(Path(keys), 300).current_path().stem == signing
