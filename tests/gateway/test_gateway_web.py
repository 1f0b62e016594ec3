"""The built web app with SPA fallback, health, and JSON errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.gateway.conftest import MakeSettings


def _dist(settings: GatewaySettings) -> Path:
    dist = Path(settings.web_dist_dir)
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root>app</div>")
    (dist / "assets" / "main-abc123.js").write_text("console.log('app')")
    return dist


# A browser opening a page.
PAGE = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_static_files_and_spa_fallback(client: TestClient, settings: GatewaySettings) -> None:
    _dist(settings)
    root = client.get("/")
    assert root.status_code == 200 and "id=root" in root.text
    assert root.headers["cache-control"] == "no-cache"

    asset = client.get("/assets/main-abc123.js")
    assert asset.status_code == 200 and "console.log" in asset.text
    assert "immutable" in asset.headers["cache-control"]

    route = client.get("/markets/BTCUSD/chart", headers=PAGE)  # a client-side route
    assert route.status_code == 200 and "id=root" in route.text
    # An API client's unknown route is a 404, not the app's page.
    unknown = client.get("/markets/BTCUSD/chart", headers={"accept": "application/json"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"

    assert client.get("/assets/missing.js").status_code == 404  # not index.html
    api = client.get("/api/nope")
    assert api.status_code == 404 and api.json()["error"] == "not_found"
    posted = client.post("/api/v2/anything", json={})  # whatever the method
    assert posted.status_code == 404 and posted.json()["error"] == "not_found"
    escape = client.get("/..%2f..%2f..%2fetc/passwd")  # decoded to ../../../etc/passwd
    assert escape.status_code == 404 and "root:" not in escape.text


def test_missing_dist_is_503_json(client: TestClient) -> None:
    res = client.get("/")
    assert res.status_code == 503
    assert res.json()["error"] == "unavailable"
    assert "make web" in res.json()["message"]


def test_errors_are_json(settings: GatewaySettings) -> None:
    app = create_app(settings)

    @app.get("/api/boom")
    def boom() -> Any:
        raise RuntimeError("secret detail")

    app.router.routes.insert(0, app.router.routes.pop())  # before the web app's catch-all
    client = TestClient(app, raise_server_exceptions=False)
    res = client.get("/api/boom", headers={"x-request-id": "edge-assigned-1"})
    assert res.status_code == 500
    assert res.json() == {
        "error": "internal",
        "message": "internal error",
        "details": [],
        "request_id": "edge-assigned-1",
    }

    wrong_method = client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


def test_error_envelope_carries_the_request_id_envoy_assigned(client: TestClient) -> None:
    res = client.get("/api/nope", headers={"x-request-id": "edge-assigned-2"})
    assert res.status_code == 404 and res.headers["x-request-id"] == "edge-assigned-2"
    assert res.json() == {
        "error": "not_found",
        "message": "no route for GET /api/nope",
        "details": [],
        "request_id": "edge-assigned-2",
    }
    direct = client.get("/api/nope")  # no Envoy in front: the gateway makes one up
    assert direct.json()["request_id"] == direct.headers["x-request-id"] != ""


@pytest.mark.parametrize("path", ["/verify-email?token=abc", "/reset-password?token=abc"])
def test_mail_links_open_the_app_with_a_strict_csp(
    client: TestClient, settings: GatewaySettings, path: str
) -> None:
    _dist(settings)
    res = client.get(path, headers=PAGE)
    assert res.status_code == 200 and "id=root" in res.text
    assert res.headers["content-type"].startswith("text/html")
    csp = dict(d.strip().split(" ", 1) for d in res.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'" and "unsafe-inline" not in res.headers["content-security-policy"]
    assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    # The page calls the API: Envoy's origin (the page's host on Envoy's port without PUBLIC_API_URL).
    assert csp["connect-src"] == "'self' http://testserver:8080"
    # the token in the URL stays here: another site would see the origin only
    assert res.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_csp_allows_the_configured_api_origin(make_settings: MakeSettings) -> None:
    settings = make_settings(public_api_url="https://api.example.com/")
    _dist(settings)
    res = TestClient(create_app(settings)).get("/", headers=PAGE)
    assert res.status_code == 200
    assert "connect-src 'self' https://api.example.com;" in res.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/x%00.js", {}),  # no file name holds a NUL byte (resolving one raised: a 500)
        ("/%00", PAGE),
        ("/courses%00/x", PAGE),
        (f"/{'a' * 300}.js", {}),  # longer than a file name may be (checking it raised: a 500)
    ],
)
def test_paths_no_file_can_have_are_404_not_500(
    settings: GatewaySettings, path: str, headers: dict[str, str]
) -> None:
    _dist(settings)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    res = client.get(path, headers=headers)
    assert res.status_code == 404, res.text
    assert res.json()["error"] == "not_found"


def test_a_page_path_too_long_for_a_file_name_is_still_a_page(
    client: TestClient, settings: GatewaySettings
) -> None:
    _dist(settings)
    res = client.get(f"/courses/{'a' * 300}", headers=PAGE)  # the app routes it (and shows its 404)
    assert res.status_code == 200 and "id=root" in res.text
