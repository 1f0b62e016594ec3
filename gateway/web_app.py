"""The built web app (web/dist) at `/`, with the single-page-app fallback to index.html.

Envoy sends every path that is not an API call here, so the app's pages open by their own URL,
the links in mails included (/verify-email?token=..., /reset-password?token=...). A path the app
may route itself gets index.html when a browser asks for a page (Accept: text/html), and the
404 of the error envelope otherwise (an API client's unknown route); /api/..., /.well-known/...,
/ws/... and missing files are always 404 JSON. The app's HTML goes out with a strict
Content-Security-Policy: scripts, styles and everything else from the app's own origin only (no
inline script), calls to the API's origin.

The folder is looked up on every request, so `make web` after the gateway started needs no
restart; until it exists, app paths answer a 503 that says how to build it.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.responses import Response

from gateway.errors import error_response
from service_runtime import defaults

# Paths the web app never owns: unknown ones are plain 404s, not the SPA's index.html.
NON_APP_PREFIXES = ("api/", ".well-known/", "ws/", "healthz")
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Vite puts content-hashed bundles here: they never change under the same name.
IMMUTABLE_DIR = "assets/"


def api_origin(api_url: str, request: Request) -> str:
    """The origin the page calls: PUBLIC_API_URL's, else what the web app assumes without it
    (web/src/format.ts): the page's own host on Envoy's port."""
    if api_url:
        parts = urlsplit(api_url)
        return f"{parts.scheme}://{parts.netloc}"
    host = request.url.hostname or defaults.LOOPBACK
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{defaults.ENVOY_PORT}"


def content_security_policy(api_url: str, request: Request) -> str:
    """The policy the web app is built for (web/csp.mjs, which its browser tests apply)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "font-src 'self'",
            f"connect-src 'self' {api_origin(api_url, request)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _page_headers(api_url: str, request: Request) -> dict[str, str]:
    return {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": content_security_policy(api_url, request),
        "X-Content-Type-Options": "nosniff",
        # Page URLs may carry a one-time token (?token=...): another site sees the origin only.
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def _file_response(path: Path, rel: str) -> FileResponse:
    cache = "public, max-age=31536000, immutable" if rel.startswith(IMMUTABLE_DIR) else "no-cache"
    return FileResponse(path, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})


def _index_response(index: Path, api_url: str, request: Request) -> Response:
    """index.html, telling the page where the API is when that is configured."""
    page = index.read_text()
    if api_url:
        meta = f'<meta name="api-base-url" content="{html.escape(api_url, quote=True)}" />'
        page = page.replace("</head>", f"    {meta}\n  </head>", 1)
    return HTMLResponse(page, headers=_page_headers(api_url, request))


def _inside(root: Path, rel: str) -> Path | None:
    """What `rel` names inside root, resolved; None when it names nothing there: `..` or a
    symlink out of the folder, or a NUL byte (no file name holds one; resolving it would raise)."""
    if "\x00" in rel:
        return None
    target = (root / rel).resolve()
    return target if target.is_relative_to(root) else None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name longer than the file system takes: there is no such file
        return False


def _wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def router(dist_dir: Path, api_url: str = "") -> APIRouter:
    api = APIRouter()

    @api.api_route("/api/{rel:path}", methods=ANY_METHOD, response_model=None)
    def unknown_api_route(rel: str, request: Request) -> JSONResponse:
        # Whatever the method: a POST to an unknown API route is not a page's 405.
        return error_response(404, f"no route for {request.method} /api/{rel}")

    @api.api_route("/{rel:path}", methods=["GET", "HEAD"], response_model=None)
    def web_app(rel: str, request: Request) -> Response | JSONResponse:
        if rel == "api" or rel.startswith(NON_APP_PREFIXES):
            return error_response(404, f"no route for /{rel}")
        root = dist_dir.resolve()
        index = root / "index.html"
        if not index.is_file():
            return error_response(
                503, f"the web app is not built ({dist_dir}/index.html missing): run `make web`"
            )
        target = _inside(root, rel)
        if target is None:
            return error_response(404, f"no route for /{rel}")
        if target == index or rel == "":
            return _index_response(index, api_url, request)
        if _is_file(target):
            return _file_response(target, rel)
        if "." in rel.rsplit("/", 1)[-1]:
            # A missing file (script, image...): answering index.html would hide the error.
            return error_response(404, f"no file /{rel}")
        if not _wants_page(request):
            return error_response(404, f"no route for /{rel} (the web app's pages are for browsers)")
        return _index_response(index, api_url, request)  # a client-side route

    return api
