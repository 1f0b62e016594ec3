"""Latest-bar predictions through Envoy: answered from the engine's cache until a new bar is
imported, and for the new bar at once after an import through the engine (no poll to wait for)."""

from __future__ import annotations

import time
import uuid

import httpx
import numpy as np
import pytest

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims
from tools.supervisor import Stack

DAY = 86400
D0 = 1_577_836_800  # 2020-01-01


def daily_walk(days: int) -> str:
    """`days` daily bars of a random walk (synthetic; the same first rows for any `days`)."""
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))
    rows = ["Date,Open,High,Low,Close,Volume"]
    for i in range(days):
        o = close[i - 1] if i else close[0]
        c = close[i]
        rows.append(
            f"{time.strftime('%Y-%m-%d', time.gmtime(D0 + i * DAY))},{o:.4f},{max(o, c) * 1.004:.4f},"
            f"{min(o, c) * 0.996:.4f},{c:.4f},{1000 + i}"
        )
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def admin_token(keys: SigningKeyStore) -> str:
    return keys.sign(claims(sub="admin-1", roles=["admin"]))


def test_an_import_through_the_engine_moves_the_latest_prediction_at_once(
    stack: Stack, token: str, admin_token: str
) -> None:
    symbol = f"LAT{uuid.uuid4().hex[:6].upper()}"

    def import_days(days: int) -> None:
        body = {
            "csvContent": daily_walk(days),
            "symbol": symbol,
            "timeframe": "1d",
            "info": {
                "name": "Latest Corp (synthetic)",
                "assetClass": "ASSET_CLASS_EQUITY",
                "tickSize": 0.01,
                "quoteCurrency": "USD",
                "timezone": "UTC",
            },
        }
        reply = httpx.post(
            f"{EDGE}/api/admin/market/import", json=body, headers=bearer(admin_token), timeout=30
        )
        assert reply.status_code == 200, reply.text

    def position() -> dict[str, object]:
        reply = httpx.get(
            f"{EDGE}/api/predict/{symbol}", params={"horizon": "position"}, headers=bearer(token), timeout=30
        )
        assert reply.status_code == 200, reply.text
        prediction: dict[str, object] = reply.json()["predictions"][0]
        return prediction

    import_days(400)
    first = position()
    assert position() == first  # the same answer, inference time included: computed once
    import_days(401)
    moved = position()
    assert moved["asOf"] != first["asOf"] and moved["predictionId"] != first["predictionId"]
    assert moved["asOf"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(D0 + 400 * DAY))
