"""Zero trust: the same attack set is rejected at Envoy and again at each service's own port,
for the business service and the ML engine alike; only the Authorization header counts."""

from __future__ import annotations

import json
import uuid

import grpc
import httpx
import pytest

from business.identity.admin_cli import create_admin
from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import BUSINESS_PORT, EDGE, ML_PORT, bearer, claims
from tests.e2e.accounts import PASSWORD, me, ok, register_verified, tokens_of
from tests.e2e.tokens import b64url, forged_tokens
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import Stack
from trading.identity.v1 import user_service_pb2, user_service_pb2_grpc
from trading.market.v1 import market_data_service_pb2, market_data_service_pb2_grpc


def test_envoy_rejects_every_bad_token(stack: Stack, keys: SigningKeyStore) -> None:
    with httpx.Client(base_url=EDGE, timeout=10) as client:
        assert client.get("/api/users/me").status_code == 401
        for name, bad in forged_tokens(keys).items():
            for path in ("/api/users/me", "/api/symbols"):
                res = client.get(path, headers=bearer(bad))
                # Envoy itself answers (its JSON error body): 401, or 403 for a wrong audience.
                expected = (
                    (403, "permission_denied") if name == "wrong_audience" else (401, "unauthenticated")
                )
                assert (res.status_code, res.json().get("error")) == expected, (name, path, res.text)


def _direct_calls() -> list[tuple[str, int, object]]:
    return [
        (
            "business UserService/GetMe",
            BUSINESS_PORT,
            lambda ch: user_service_pb2_grpc.UserServiceStub(ch).GetMe,
        ),
        (
            "ml_engine MarketDataService/ListSymbols",
            ML_PORT,
            lambda ch: market_data_service_pb2_grpc.MarketDataServiceStub(ch).ListSymbols,
        ),
    ]


REQUESTS = {
    BUSINESS_PORT: user_service_pb2.GetMeRequest(),
    ML_PORT: market_data_service_pb2.ListSymbolsRequest(),
}


@pytest.mark.parametrize(("target", "port", "method_of"), _direct_calls(), ids=["business", "ml_engine"])
def test_service_ports_reject_every_bad_token(
    stack: Stack, keys: SigningKeyStore, target: str, port: int, method_of: object
) -> None:
    request = REQUESTS[port]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = method_of(channel)  # type: ignore[operator]
        attempts = {
            "no token": [],
            # Headers a proxy might add carry no weight on a service port.
            "claims header only": [("x-jwt-payload", b64url(json.dumps(claims(roles=["admin"])).encode()))],
            "basic scheme": [("authorization", "Basic " + b64url(b"admin:admin"))],
            **{name: list(bearer(bad).items()) for name, bad in forged_tokens(keys).items()},
        }
        for name, metadata in attempts.items():
            with pytest.raises(grpc.RpcError) as rejected:
                call(request, metadata=metadata, timeout=10)
            assert rejected.value.code() == grpc.StatusCode.UNAUTHENTICATED, (target, name)


def test_a_service_token_cannot_call_user_rpcs(stack: Stack, keys: SigningKeyStore) -> None:
    """Only the RPCs whose access rule lists role "service" take one (ListSymbols does, for
    education's live blocks); ImportBars (admin) does not."""
    service = keys.sign(claims(sub="service:gateway", roles=["service"], plan=""))
    with grpc.insecure_channel(f"127.0.0.1:{ML_PORT}") as channel:
        stub = market_data_service_pb2_grpc.MarketDataServiceStub(channel)
        metadata = list(bearer(service).items())
        with pytest.raises(grpc.RpcError) as denied:
            stub.ImportBars(
                market_data_service_pb2.ImportBarsRequest(sample="EURUSD"), metadata=metadata, timeout=10
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert stub.ListSymbols(
            market_data_service_pb2.ListSymbolsRequest(), metadata=metadata, timeout=10
        ).symbols


def _ml_symbols_direct(access_token: str) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{ML_PORT}") as channel:
        try:
            market_data_service_pb2_grpc.MarketDataServiceStub(channel).ListSymbols(
                market_data_service_pb2.ListSymbolsRequest(),
                metadata=list(bearer(access_token).items()),
                timeout=10,
            )
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _edge_status(path: str, access_token: str) -> int:
    return httpx.get(f"{EDGE}{path}", headers=bearer(access_token), timeout=30).status_code


def test_logged_out_and_suspended_users_tokens_stop_working_everywhere(
    stack: Stack, smtp_sink: SmtpSink
) -> None:
    # The ML engine learns of logouts and suspensions through Redis when the stack has it (CI),
    # else through the shared SQLite file (the `make run` default): either way, at once.
    # A session that logs out: its access token dies with it, at Envoy and at both services.
    email = register_verified(smtp_sink)
    tokens = tokens_of(email)
    access = tokens["accessToken"]
    assert _edge_status("/api/users/me", access) == 200
    assert _edge_status("/api/symbols", access) == 200
    assert _ml_symbols_direct(access) == grpc.StatusCode.OK
    assert (
        httpx.post(
            f"{EDGE}/api/auth/logout", json={"refreshToken": tokens["refreshToken"]}, timeout=30
        ).status_code
        == 200
    )
    assert _edge_status("/api/users/me", access) == 401
    assert _edge_status("/api/symbols", access) == 401
    assert _ml_symbols_direct(access) == grpc.StatusCode.UNAUTHENTICATED

    # A suspended user: every token issued before the suspension is rejected, login refused.
    admin_email = f"zt-admin-{uuid.uuid4().hex[:8]}@example.com"
    admin_id, _ = create_admin(stack.env["DATABASE_URL"], admin_email, "zero trust admin 1357")
    boss = tokens_of(admin_email, "zero trust admin 1357")["accessToken"]
    victim_email = register_verified(smtp_sink)
    victim = tokens_of(victim_email)["accessToken"]
    victim_id = ok(me(victim))["user"]["id"]
    assert _ml_symbols_direct(victim) == grpc.StatusCode.OK
    ok(
        httpx.post(
            f"{EDGE}/api/admin/users/{victim_id}/suspend",
            json={"suspended": True, "reason": "zero trust"},
            headers=bearer(boss),
            timeout=30,
        )
    )
    assert _edge_status("/api/users/me", victim) == 401
    with grpc.insecure_channel(f"127.0.0.1:{BUSINESS_PORT}") as channel:
        with pytest.raises(grpc.RpcError) as rejected:
            user_service_pb2_grpc.UserServiceStub(channel).GetMe(
                user_service_pb2.GetMeRequest(), metadata=list(bearer(victim).items()), timeout=10
            )
        assert rejected.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _edge_status("/api/symbols", victim) == 401
    assert _ml_symbols_direct(victim) == grpc.StatusCode.UNAUTHENTICATED
    assert (
        httpx.post(
            f"{EDGE}/api/auth/login", json={"email": victim_email, "password": PASSWORD}, timeout=30
        ).status_code
        == 401
    )
    assert admin_id
