"""ModelPromotionService through Envoy (REST): admin only, bad input names the field, a shadow
started, listed, compared and stopped, and users' predictions untouched while it runs."""

from __future__ import annotations

import httpx

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims
from tools.supervisor import Stack

MODEL = "intraday_xgb_range_high"


def call(method: str, path: str, token: str | None, body: dict[str, str] | None = None) -> httpx.Response:
    headers = bearer(token) if token else {}
    return httpx.request(method, f"{EDGE}{path}", json=body, headers=headers, timeout=60)


def test_shadow_admin_routes_through_the_edge(stack: Stack, keys: SigningKeyStore, token: str) -> None:
    admin = keys.sign(claims(sub="admin-1", roles=["admin"]))
    assert call("GET", "/api/admin/models/shadows", None).status_code == 401
    assert call("GET", "/api/admin/models/shadows", token).status_code == 403
    assert call("POST", f"/api/admin/models/{MODEL}:shadow", token, {"version": "1"}).status_code == 403
    bad = call("POST", f"/api/admin/models/{MODEL}:shadow", admin, {"version": ""})
    assert bad.status_code == 400 and "version" in bad.text

    serving = call("GET", f"/api/models/{MODEL}", token).json()["model"]["activeVersion"]
    candidate = "1" if serving != "1" else "2"
    started = call("POST", f"/api/admin/models/{MODEL}:shadow", admin, {"version": candidate})
    assert started.status_code == 200, started.text
    assert started.json()["shadow"]["shadowVersion"] == candidate
    try:
        listed = call("GET", "/api/admin/models/shadows", admin).json()
        assert [(s["name"], s["shadowVersion"], s["activeVersion"]) for s in listed["shadows"]] == [
            (MODEL, candidate, serving)
        ]
        assert listed.get("autoPromote", False) is False
        # Users are served by the serving version only.
        predicted = call("GET", "/api/predict/EURUSD?horizon=intraday", token)
        assert predicted.status_code == 200, predicted.text
        versions = {m["version"] for m in predicted.json()["predictions"][0]["models"] if m["name"] == MODEL}
        assert versions == {serving}
        compared = call("GET", f"/api/admin/models/{MODEL}/shadow/comparison", admin)
        assert compared.status_code == 200, compared.text
        assert [m["metric"] for m in compared.json()["metrics"]] == [
            "range_mae_pct",
            "tp_long_brier",
            "tp_short_brier",
        ]
        assert compared.json()["verdict"].startswith("SHADOW_VERDICT_")
    finally:
        stopped = call("POST", f"/api/admin/models/{MODEL}:stop-shadow", admin, {})
    assert stopped.status_code == 200, stopped.text
    assert call("POST", f"/api/admin/models/{MODEL}:stop-shadow", admin, {}).status_code == 404
    assert call("GET", f"/api/admin/models/{MODEL}/shadow/comparison", admin).status_code == 404
