"""The web app's pages and the browser's view of the edge, through Envoy (issue 13, items 6 and 7,
and the seed's CORS validation): the links in mails open the app, with a strict CSP; dev tokens
only for callers on this host, the local Envoy on loopback; CORS from Vite's dev server."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import EDGE, ENVOY_PORT, bearer
from tests.e2e import grpc_web
from tests.e2e.accounts import PASSWORD, new_email, ok, post
from tests.e2e.edges import Edge, extra_edge, non_loopback_address
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import Stack
from trading.ml.v1 import engine_service_pb2 as ml_pb

# What a browser sends when it opens a link.
PAGE = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
DEV_SERVER_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")


def assert_app_page(reply: httpx.Response) -> None:
    """The web app's index.html, under a strict Content-Security-Policy."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert '<div id="root"></div>' in reply.text  # web/dist/index.html (make web)
    policy = reply.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and "unsafe-inline" not in policy  # no inline script
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["connect-src"].split() == ["'self'", EDGE]  # the app calls the API only
    assert reply.headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", ["/verify-email?token=x", "/reset-password?token=x"])
def test_mail_link_paths_open_the_web_app(stack: Stack, path: str) -> None:
    # Not a 401 "Jwt is missing" from Envoy.
    assert_app_page(httpx.get(f"{EDGE}{path}", headers=PAGE))


def test_the_links_of_real_mails_open_the_web_app(stack: Stack, smtp_sink: SmtpSink) -> None:
    email = new_email()
    ok(post("/api/auth/register", {"email": email, "password": PASSWORD}))
    ok(post("/api/auth/password/forgot", {"email": email}))
    for subject in ("confirm", "reset"):
        (link, *_) = SmtpSink.links(smtp_sink.wait_for(email, subject_contains=subject))
        parts = urlsplit(link)
        assert parts.path in ("/verify-email", "/reset-password") and "token=" in parts.query
        assert_app_page(httpx.get(f"{EDGE}{parts.path}?{parts.query}", headers=PAGE))


def test_app_assets_are_served_through_the_edge(stack: Stack) -> None:
    page = httpx.get(f"{EDGE}/", headers=PAGE)
    assert_app_page(page)
    script = page.text.split('src="', 1)[1].split('"', 1)[0]  # /assets/index-<hash>.js
    asset = httpx.get(f"{EDGE}{script}")
    assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]


# --- dev tokens and the loopback listener (item 7) ----------------------------------------


def test_dev_tokens_for_callers_on_this_host(stack: Stack) -> None:
    reply = httpx.post(f"{EDGE}/api/auth/dev-token")
    assert reply.status_code == 200 and reply.json()["access_token"]


@pytest.fixture(scope="module")
def host_address() -> str:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this host has no address but loopback: no other host could call it")
    return address


def test_the_local_edge_listens_on_loopback_only(stack: Stack, host_address: str) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://{host_address}:{ENVOY_PORT}/api/auth/dev-token", timeout=5)


@pytest.fixture(scope="module")
def open_edge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """The edge on every interface, as in a container (make k8s-envoy)."""
    with extra_edge(stack, tmp_path_factory.mktemp("open"), ENVOY_HOST="0.0.0.0") as edge:
        yield edge


@pytest.mark.parametrize(
    "forged",
    [{}, {"x-forwarded-for": "127.0.0.1", "x-envoy-external-address": "127.0.0.1", "x-real-ip": "127.0.0.1"}],
)
def test_dev_tokens_refused_to_other_hosts(
    open_edge: Edge, host_address: str, forged: dict[str, str]
) -> None:
    reply = httpx.post(f"http://{host_address}:{open_edge.port}/api/auth/dev-token", headers=forged)
    assert reply.status_code == 403, reply.text
    assert reply.json()["error"] == "permission_denied" and "access_token" not in reply.text
    # The same edge still mints for a caller on this host.
    assert httpx.post(f"{open_edge.url}/api/auth/dev-token").status_code == 200


# --- CORS from Vite's dev server (the seed's validation 8) ---------------------------------


@pytest.fixture(scope="module")
def default_edge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """The edge with the default CORS origins (the session's stack allows only its own page)."""
    with extra_edge(stack, tmp_path_factory.mktemp("cors"), CORS_ALLOWED_ORIGINS=None) as edge:
        yield edge


def _preflight(url: str, origin: str, method: str, headers: str) -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize("origin", DEV_SERVER_ORIGINS)
def test_rest_from_the_dev_server(default_edge: Edge, token: str, origin: str) -> None:
    preflight = _preflight(f"{default_edge.url}/api/stats", origin, "GET", "authorization")
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    reply = httpx.get(f"{default_edge.url}/api/stats", headers={"Origin": origin, **bearer(token)})
    assert reply.status_code == 200 and reply.headers["access-control-allow-origin"] == origin
    assert "x-request-id" in reply.headers["access-control-expose-headers"]
    # A page can read the error envelope too.
    refused = httpx.get(f"{default_edge.url}/api/stats", headers={"Origin": origin})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize("origin", DEV_SERVER_ORIGINS)
def test_grpc_web_from_the_dev_server(default_edge: Edge, token: str, origin: str) -> None:
    url = f"{default_edge.url}/trading.ml.v1.EngineService/GetStats"
    preflight = _preflight(url, origin, "POST", "authorization,content-type,x-grpc-web,x-user-agent")
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
    reply = grpc_web.call(url, ml_pb.GetStatsRequest(), {"Origin": origin, **bearer(token)})
    assert reply.grpc_status == 0 and reply.messages, reply.grpc_message
    assert reply.headers["access-control-allow-origin"] == origin
    assert "grpc-status" in reply.headers["access-control-expose-headers"]


def test_other_origins_get_no_cors_headers(default_edge: Edge) -> None:
    for origin in ("http://localhost:5174", "http://evil.example"):
        preflight = _preflight(f"{default_edge.url}/api/stats", origin, "GET", "authorization")
        assert not any(h.startswith("access-control-") for h in preflight.headers), origin
