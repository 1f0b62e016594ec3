"""REST through Envoy: transcoding, JSON shapes, JWT, CORS and bad input."""

from __future__ import annotations

import base64
import json
import os

import httpx
import pytest

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, PAGE_ORIGIN, bearer, claims
from tools.supervisor import Stack


def test_health_answers_every_dependency(stack: Stack) -> None:
    reply = httpx.get(f"{EDGE}/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert body["service"] == "business"
    states = {d["name"]: d["state"] for d in body["dependencies"]}
    assert states["business_db"] == "DEPENDENCY_STATE_UP"
    assert states["ml_engine"] == "DEPENDENCY_STATE_UP"
    assert states["ml_engine.market_db"] == "DEPENDENCY_STATE_UP"
    expected_redis = (
        "DEPENDENCY_STATE_UP" if os.environ.get("TEST_REDIS_URL") else "DEPENDENCY_STATE_DISABLED"
    )
    assert states["redis"] == expected_redis
    assert body["checkedAt"].endswith("Z")
    if os.environ.get("TEST_DATABASE_URL"):
        assert next(d for d in body["dependencies"] if d["name"] == "business_db")["detail"].startswith(
            "postgresql"
        )
    if os.environ.get("TEST_MYSQL_HOST"):
        assert next(d for d in body["dependencies"] if d["name"] == "ml_engine.market_db")[
            "detail"
        ].startswith("mysql")


def test_stats_shape_with_token(stack: Stack, token: str) -> None:
    httpx.get(f"{EDGE}/health")  # at least one engine call to count
    reply = httpx.get(f"{EDGE}/api/stats", headers=bearer(token))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["uptimeSeconds"] > 0
    assert int(body["requestsTotal"]) >= 1
    # Every model of the committed repository is loaded, with the provider it really runs on.
    models = body["models"]
    assert body["modelsLoaded"] == len(models) > 0
    assert all(m["executionProvider"] == "CPUExecutionProvider" for m in models)
    methods = {m["method"] for m in body["methods"]}
    assert "/trading.ml.v1.EngineService/GetEngineHealth" in methods


def test_stats_filters_methods(stack: Stack, token: str) -> None:
    reply = httpx.get(
        f"{EDGE}/api/stats", params={"methodPrefix": "/trading.ml.", "maxMethods": 1}, headers=bearer(token)
    )
    assert reply.status_code == 200, reply.text
    methods = reply.json()["methods"]
    assert len(methods) == 1 and methods[0]["method"].startswith("/trading.ml.")
    posted = httpx.post(f"{EDGE}/api/stats:query", json={"maxMethods": 1}, headers=bearer(token))
    assert posted.status_code == 200 and len(posted.json()["methods"]) == 1


@pytest.mark.parametrize(
    ("request_kwargs", "named"),
    [
        ({"method": "GET", "url": "/api/stats?maxMethods=abc"}, "max"),
        ({"method": "POST", "url": "/api/stats:query", "content": b'{"maxMethods": '}, ""),
        ({"method": "POST", "url": "/api/stats:query", "json": {"maxMethods": "lots"}}, "max_methods"),
        ({"method": "GET", "url": "/api/stats?unknownParam=1"}, "unknownParam"),
    ],
)
def test_malformed_input_is_400_naming_the_problem(
    stack: Stack, token: str, request_kwargs: dict[str, object], named: str
) -> None:
    kwargs = dict(request_kwargs)
    reply = httpx.request(
        str(kwargs.pop("method")), EDGE + str(kwargs.pop("url")), headers=bearer(token), **kwargs
    )  # type: ignore[arg-type]
    assert reply.status_code == 400, reply.text
    assert named in reply.text
    assert "Traceback" not in reply.text


def test_domain_validation_is_400_with_field_violations(stack: Stack, token: str) -> None:
    reply = httpx.post(
        f"{EDGE}/api/stats:query", json={"maxMethods": 5000, "methodPrefix": "x"}, headers=bearer(token)
    )
    assert reply.status_code == 400
    body = reply.json()
    assert body["code"] == 3  # INVALID_ARGUMENT, as google.rpc.Status
    violations = body["details"][0]["fieldViolations"]
    assert {v["field"] for v in violations} == {"max_methods", "method_prefix"}


def test_protected_route_without_token_is_401_json(stack: Stack) -> None:
    reply = httpx.get(f"{EDGE}/api/stats")
    assert reply.status_code == 401
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"] == "unauthenticated"


def _b64(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_audience",
        "alg_none",
        "unknown_kid",
        "tampered",
    ],
)
def test_bad_tokens_are_401(stack: Stack, keys: SigningKeyStore, kind: str) -> None:
    import time

    now = int(time.time())
    forged = {
        "garbage": "not.a.jwt",
        "expired": keys.sign(claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600)),
        "not_yet_valid": keys.sign(claims(nbf=now + 3600, exp=now + 7200)),
        "wrong_issuer": keys.sign(claims(iss="someone-else")),
        "wrong_audience": keys.sign(claims(aud="another-api")),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}.",
    }.get(kind)
    if kind == "unknown_kid":
        good = keys.sign(claims())
        header, payload, sig = good.split(".")
        forged = f"{_b64({'alg': 'EdDSA', 'typ': 'JWT', 'kid': 'nope'})}.{payload}.{sig}"
    if kind == "tampered":
        header, payload, sig = keys.sign(claims()).split(".")
        forged = f"{header}.{_b64(claims(roles=['admin']))}.{sig}"
    assert forged is not None
    reply = httpx.get(f"{EDGE}/api/stats", headers=bearer(forged))
    # Envoy answers a valid signature for another audience with 403, everything else 401.
    assert reply.status_code == (403 if kind == "wrong_audience" else 401), (kind, reply.text)
    assert reply.json()["error"] in {"unauthenticated", "forbidden"}


def test_cors_preflight_allowed_origin(stack: Stack) -> None:
    reply = httpx.options(
        f"{EDGE}/trading.ml.v1.EngineService/GetStats",
        headers={
            "Origin": PAGE_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-grpc-web",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert "authorization" in reply.headers["access-control-allow-headers"]
    assert "grpc-status" in reply.headers["access-control-expose-headers"]


def test_cors_preflight_denied_origin_gets_no_cors_headers(stack: Stack) -> None:
    reply = httpx.options(
        f"{EDGE}/trading.ml.v1.EngineService/GetStats",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert not any(h.startswith("access-control-") for h in reply.headers)


def test_jwks_and_docs_are_public_through_envoy(stack: Stack) -> None:
    jwks = httpx.get(f"{EDGE}/.well-known/jwks.json").json()
    assert jwks["keys"] and jwks["keys"][0]["alg"] == "EdDSA"
    spec = httpx.get(f"{EDGE}/api/docs/openapi.json").json()
    assert "/api/stats" in spec["paths"] and "/health" in spec["paths"]
