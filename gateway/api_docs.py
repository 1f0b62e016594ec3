"""GET /api/docs/openapi.json and GET /api/docs: API docs generated from the protos.

The document is built from the descriptor set on first request and rebuilt when the file
changes (`make gen` rewrites it), so regenerating contracts needs no gateway restart.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.errors import error_response
from gateway.openapi import build_openapi
from service_runtime.proto_index import ProtoIndex

OPENAPI_PATH = "/api/docs/openapi.json"
DOCS_PATH = "/api/docs"


class OpenApiSource:
    """The OpenAPI document of a descriptor set file, cached until the file's mtime changes."""

    def __init__(self, descriptor_set: Path) -> None:
        self.path = descriptor_set
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._doc: dict[str, Any] = {}

    def document(self) -> dict[str, Any]:
        stamp = self.path.stat().st_mtime_ns  # FileNotFoundError when not generated yet
        with self._lock:
            if stamp != self._stamp:
                self._doc = build_openapi(ProtoIndex.load(self.path))
                self._stamp = stamp
            return self._doc


def _missing(source: OpenApiSource) -> JSONResponse:
    return error_response(
        503,
        f"descriptor set {source.path} not found: generate it with `make gen`",
    )


def _schema_label(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return _schema_label(schema.get("items", {})) + "[]"
    if "allOf" in schema:
        return _schema_label(schema["allOf"][0])
    fmt = schema.get("format")
    return f"{schema.get('type', 'any')}" + (f" ({fmt})" if fmt else "")


def _param_row(param: dict[str, Any]) -> str:
    e = html.escape
    cells = (
        f"<code>{e(param['name'])}</code>",
        e(param["in"]),
        e(_schema_label(param.get("schema", {}))),
        "yes" if param.get("required") else "no",
        e(param.get("description", "")),
    )
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _operation_html(path: str, verb: str, op: dict[str, Any]) -> str:
    e = html.escape
    auth = (
        "<span class=auth title='needs a bearer token'>bearer</span>"
        if op.get("security")
        else "<span class=auth>public</span>"
    )
    rows = "".join(_param_row(p) for p in op.get("parameters", []))
    params = (
        "<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th>"
        f"<th>description</th></tr>{rows}</table>"
        if rows
        else ""
    )
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    body_html = f"<p>Body: <code>{e(_schema_label(body['schema']))}</code></p>" if body else ""
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    return (
        f"<section id='{e(op['operationId'])}'><h3><span class='verb {e(verb)}'>"
        f"{e(verb.upper())}</span> <code>{e(path)}</code> {auth}</h3>"
        f"<p>{e(op.get('summary', ''))}</p>{params}{body_html}"
        f"<p>Returns <code>{e(_schema_label(ok))}</code> &middot; "
        f"<small>{e(op.get('x-grpc-method', ''))}</small></p></section>"
    )


_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
section{border-top:1px solid #ddd;padding:.5rem 0}h3{margin:.3rem 0;font-size:1.05rem}
.verb{display:inline-block;min-width:4rem;padding:0 .4rem;border-radius:3px;color:#fff;
background:#555;font-size:.85rem;text-align:center}.get{background:#2b7bb9}.post{background:#2e9b4b}
.put,.patch{background:#c07b12}.delete{background:#b33}
.auth{font-size:.75rem;padding:0 .3rem;border:1px solid #999;border-radius:3px;color:#555}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ddd;padding:.2rem .5rem}
"""


def render_docs_html(doc: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no CDN: the machines are offline)."""
    e = html.escape
    by_tag: dict[str, list[str]] = {}
    for path, ops in doc.get("paths", {}).items():
        for verb, op in ops.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation_html(path, verb, op))
    descriptions = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    sections = "".join(
        f"<h2>{e(tag)}</h2><p>{e(descriptions.get(tag, ''))}</p>{''.join(ops)}" for tag, ops in by_tag.items()
    )
    info = doc.get("info", {})
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{e(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{e(info.get('title', 'API'))} <small>{e(info.get('version', ''))}</small></h1>"
        f"<p>{e(info.get('description', ''))}</p>"
        f"<p>Machine-readable: <a href='{OPENAPI_PATH}'>OpenAPI 3.0 JSON</a>. "
        "Operations marked <em>bearer</em> need <code>Authorization: Bearer &lt;token&gt;</code>."
        f"</p>{sections}</body></html>"
    )


def router(source: OpenApiSource) -> APIRouter:
    api = APIRouter()

    @api.get(OPENAPI_PATH)
    def openapi_json() -> JSONResponse:
        try:
            return JSONResponse(source.document())
        except FileNotFoundError:
            return _missing(source)

    @api.get(DOCS_PATH, response_model=None)
    def docs_page() -> HTMLResponse | JSONResponse:
        try:
            return HTMLResponse(render_docs_html(source.document()))
        except FileNotFoundError:
            return _missing(source)

    return api
