"""The built web app (web/dist) at `/`, with the single-page-app fallback to index.html.

The folder is looked up on every request, so `make web` after the gateway started needs no
restart; until it exists, app paths answer a 503 that says how to build it.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.responses import Response

from gateway.errors import error_response

# Paths the web app never owns: unknown ones are plain 404s, not the SPA's index.html.
NON_APP_PREFIXES = ("api/", ".well-known/", "ws/", "healthz")
# Vite puts content-hashed bundles here: they never change under the same name.
IMMUTABLE_DIR = "assets/"


def _file_response(path: Path, rel: str) -> FileResponse:
    cache = "public, max-age=31536000, immutable" if rel.startswith(IMMUTABLE_DIR) else "no-cache"
    return FileResponse(path, headers={"Cache-Control": cache})


def _index_response(index: Path, api_url: str) -> Response:
    """index.html, telling the page where the API is when that is configured."""
    if not api_url:
        return _file_response(index, "index.html")
    meta = f'<meta name="api-base-url" content="{html.escape(api_url, quote=True)}" />'
    page = index.read_text().replace("</head>", f"    {meta}\n  </head>", 1)
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


def router(dist_dir: Path, api_url: str = "") -> APIRouter:
    api = APIRouter()

    @api.api_route("/{rel:path}", methods=["GET", "HEAD"], response_model=None)
    def web_app(rel: str) -> Response | JSONResponse:
        if rel == "api" or rel.startswith(NON_APP_PREFIXES):
            return error_response(404, f"no route for /{rel}")
        root = dist_dir.resolve()
        index = root / "index.html"
        if not index.is_file():
            return error_response(
                503, f"the web app is not built ({dist_dir}/index.html missing): run `make web`"
            )
        target = (root / rel).resolve()
        if not target.is_relative_to(root):  # `..` or a symlink out of the folder
            return error_response(404, f"no route for /{rel}")
        if target == index or rel == "":
            return _index_response(index, api_url)
        if target.is_file():
            return _file_response(target, rel)
        if "." in rel.rsplit("/", 1)[-1]:
            # A missing file (script, image...): answering index.html would hide the error.
            return error_response(404, f"no file /{rel}")
        return _index_response(index, api_url)  # a client-side route

    return api
