"""The built web app (web/dist) at `/`, with the single-page-app fallback to index.html.

The folder is looked up on every request, so `make web` after the gateway started needs no
restart; until it exists, app paths answer a 503 that says how to build it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import Response

from gateway.errors import error_response

# Paths the web app never owns: unknown ones are plain 404s, not the SPA's index.html.
NON_APP_PREFIXES = ("api/", ".well-known/", "ws/", "healthz")
# Vite puts content-hashed bundles here: they never change under the same name.
IMMUTABLE_DIR = "assets/"


def _file_response(path: Path, rel: str) -> FileResponse:
    cache = "public, max-age=31536000, immutable" if rel.startswith(IMMUTABLE_DIR) else "no-cache"
    return FileResponse(path, headers={"Cache-Control": cache})


def router(dist_dir: Path) -> APIRouter:
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
        if target.is_file():
            return _file_response(target, rel)
        if "." in rel.rsplit("/", 1)[-1]:
            # A missing file (script, image...): answering index.html would hide the error.
            return error_response(404, f"no file /{rel}")
        return _file_response(index, "index.html")  # a client-side route

    return api
