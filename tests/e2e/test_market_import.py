"""The admin-only import RPC: through Envoy by REST, and the ML engine's own port re-checking
the token (zero trust): missing, forged, key-confused, expired and non-admin tokens fail."""

from __future__ import annotations

import json
import time
import uuid

import grpc
import httpx
import pytest

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, ML_PORT, bearer, claims
from tests.e2e.tokens import b64url, forged_tokens
from tools.supervisor import Stack
from trading.market.v1 import market_data_service_pb2 as md_pb
from trading.market.v1 import market_data_service_pb2_grpc as md_grpc

DAY = 86400
D0 = 1_704_067_200  # 2024-01-01


def daily_csv(days: int, bad_line: int | None = None) -> str:
    rows = ["Date,Open,High,Low,Close,Volume"]
    for i in range(days):
        high = 12 if len(rows) + 1 != bad_line else 9
        rows.append(f"{time.strftime('%Y-%m-%d', time.gmtime(D0 + i * DAY))},10,{high},9.5,11,{100 + i}")
    return "\n".join(rows) + "\n"


def import_body(symbol: str, csv_text: str) -> dict[str, object]:
    return {
        "csvContent": csv_text,
        "symbol": symbol,
        "timeframe": "1d",
        "info": {
            "name": "Test Corp",
            "assetClass": "ASSET_CLASS_EQUITY",
            "tickSize": 0.01,
            "quoteCurrency": "USD",
            "timezone": "America/New_York",
        },
    }


@pytest.fixture(scope="module")
def admin_token(keys: SigningKeyStore) -> str:
    return keys.sign(claims(sub="admin-1", roles=["admin"]))


def test_admin_imports_csv_through_envoy_and_reimport_adds_nothing(stack: Stack, admin_token: str) -> None:
    symbol = f"IMP{uuid.uuid4().hex[:6].upper()}"
    url = f"{EDGE}/api/admin/market/import"
    first = httpx.post(url, json=import_body(symbol, daily_csv(40)), headers=bearer(admin_token))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "symbol": symbol,
        "timeframe": "1d",
        "rowsRead": "40",
        "rowsInserted": "40",
        "rowsExisting": "0",
        "committed": True,
    }
    again = httpx.post(url, json=import_body(symbol, daily_csv(40)), headers=bearer(admin_token)).json()
    assert (again["rowsInserted"], again["rowsExisting"]) == ("0", "40")
    history = httpx.get(f"{EDGE}/api/history/{symbol}", headers=bearer(admin_token)).json()
    assert len(history["bars"]) == 40 and history["bars"][-1]["volume"] == 139


def test_a_bad_file_is_rejected_whole_with_line_numbers(stack: Stack, admin_token: str) -> None:
    symbol = f"BAD{uuid.uuid4().hex[:6].upper()}"
    reply = httpx.post(
        f"{EDGE}/api/admin/market/import",
        json=import_body(symbol, daily_csv(30, bad_line=17)),
        headers=bearer(admin_token),
    )
    assert reply.status_code == 400, reply.text
    violations = [
        (v["field"], v["description"]) for d in reply.json()["details"] for v in d.get("fieldViolations", [])
    ]
    assert violations == [("csv_content", "line 17: high 9 is below max(open, close) 11")]
    assert httpx.get(f"{EDGE}/api/history/{symbol}", headers=bearer(admin_token)).status_code == 404


def test_import_needs_the_admin_role(stack: Stack, token: str) -> None:
    reply = httpx.post(f"{EDGE}/api/admin/market/import", json={"sample": "GOOG"}, headers=bearer(token))
    assert reply.status_code == 403, reply.text
    assert "admin" in reply.json()["message"]
    assert httpx.post(f"{EDGE}/api/admin/market/import", json={"sample": "GOOG"}).status_code == 401


def test_sample_import_by_admin_is_idempotent(stack: Stack, admin_token: str) -> None:
    reply = httpx.post(
        f"{EDGE}/api/admin/market/import", json={"sample": "goog"}, headers=bearer(admin_token)
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["rowsInserted"] == "0"  # loaded at start-up already


def test_service_port_rejects_every_bad_token(stack: Stack, keys: SigningKeyStore, admin_token: str) -> None:
    request = md_pb.ImportBarsRequest(sample="GOOG", dry_run=True)
    with grpc.insecure_channel(f"127.0.0.1:{ML_PORT}") as channel:
        stub = md_grpc.MarketDataServiceStub(channel)
        with pytest.raises(grpc.RpcError) as missing:
            stub.ImportBars(request, timeout=10)
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # A claims header Envoy would never forward proves nothing here.
        with pytest.raises(grpc.RpcError) as header_only:
            stub.ImportBars(
                request,
                metadata=[("x-jwt-payload", b64url(json.dumps(claims(roles=["admin"])).encode()))],
                timeout=10,
            )
        assert header_only.value.code() == grpc.StatusCode.UNAUTHENTICATED
        for name, bad in forged_tokens(keys).items():
            with pytest.raises(grpc.RpcError) as rejected:
                stub.ImportBars(request, metadata=list(bearer(bad).items()), timeout=10)
            assert rejected.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
        with pytest.raises(grpc.RpcError) as not_admin:
            stub.ImportBars(
                request, metadata=list(bearer(keys.sign(claims(roles=["user"]))).items()), timeout=10
            )
        assert not_admin.value.code() == grpc.StatusCode.PERMISSION_DENIED
        ok = stub.ImportBars(request, metadata=list(bearer(admin_token).items()), timeout=10)
        assert ok.rows_read == 2148 and not ok.committed
