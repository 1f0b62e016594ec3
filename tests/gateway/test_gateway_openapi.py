"""The OpenAPI document and the HTML docs page generated from the descriptor set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from gateway.openapi import build_openapi
from service_runtime.proto_index import ProtoIndex

FDP = descriptor_pb2.FieldDescriptorProto
REF = "#/components/schemas/"


def _schema(doc: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"][ref["$ref"].removeprefix(REF)]
    return schema


def test_openapi_paths_and_security(client: TestClient) -> None:
    res = client.get("/api/docs/openapi.json")
    assert res.status_code == 200
    doc = res.json()
    assert doc["openapi"].startswith("3.0")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    health = doc["paths"]["/health"]["get"]
    assert not health.get("security")
    assert health["operationId"] == "StatusService_GetHealth"
    assert health["tags"] == ["StatusService"]

    stats = doc["paths"]["/api/stats"]["get"]
    assert stats["security"] == [{"bearerAuth": []}]
    assert stats["operationId"] == "EngineService_GetStats"
    assert "uptime" in stats["summary"]  # from the proto comment
    assert stats["x-required-roles"] == ["user", "admin"]
    # Security follows each RPC's access rule, not its path.
    assert not doc["paths"]["/api/ml/health"]["get"].get("security")
    assert not doc["paths"]["/api/auth/login"]["post"].get("security")
    suspend = doc["paths"]["/api/admin/users/{user_id}/suspend"]["post"]
    assert suspend["security"] == [{"bearerAuth": []}] and suspend["x-required-roles"] == ["admin"]


def test_openapi_stats_response_schema(client: TestClient) -> None:
    doc = client.get("/api/docs/openapi.json").json()
    ok = doc["paths"]["/api/stats"]["get"]["responses"]["200"]["content"]["application/json"]
    props = _schema(doc, ok["schema"])["properties"]
    assert props["uptimeSeconds"]["type"] == "number"
    assert props["requestsTotal"]["type"] == "string"  # int64 travels as a string
    assert props["requestsTotal"]["format"] == "int64"
    assert props["startedAt"] == {"type": "string", "format": "date-time"}
    assert props["methods"]["type"] == "array"
    method_stats = _schema(doc, props["methods"]["items"])
    assert set(method_stats["properties"]) == {"method", "requests", "errors"}
    assert "RPC method" in method_stats["description"]


def test_openapi_enum_as_string_enum(client: TestClient) -> None:
    doc = client.get("/api/docs/openapi.json").json()
    state = doc["components"]["schemas"]["trading.common.v1.DependencyState"]
    assert state["type"] == "string"
    assert "DEPENDENCY_STATE_UP" in state["enum"]


def test_docs_page_lists_operations(client: TestClient) -> None:
    res = client.get("/api/docs")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    assert "/api/stats" in res.text and "/health" in res.text
    assert "/api/docs/openapi.json" in res.text
    assert "<script" not in res.text  # self-contained


def test_missing_descriptor_set_is_503(make_settings: Any) -> None:
    from gateway.app import create_app

    client = TestClient(create_app(make_settings(descriptor_set="/nonexistent/x.binpb")))
    res = client.get("/api/docs/openapi.json")
    assert res.status_code == 503
    assert res.json()["error"] == "unavailable"


def _field(
    name: str, number: int, kind: FDP.Type.ValueType, type_name: str = "", repeated: bool = False
) -> FDP:
    camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
    return FDP(
        name=name,
        number=number,
        type=kind,
        type_name=type_name,
        json_name=camel,
        label=FDP.LABEL_REPEATED if repeated else FDP.LABEL_OPTIONAL,
    )


def _synthetic_index(tmp_path: Path) -> ProtoIndex:
    """A contract with path parameters, query parameters and bodies (trading.test.v1)."""
    file = descriptor_pb2.FileDescriptorProto(
        name="trading/test/v1/x.proto", package="trading.test.v1", syntax="proto3"
    )
    file.enum_type.add(name="Timeframe").value.add(name="TIMEFRAME_UNSPECIFIED", number=0)
    file.message_type.add(name="Bar").field.extend([_field("close", 1, FDP.TYPE_DOUBLE)])
    file.message_type.add(name="HistoryRequest").field.extend(
        [
            _field("symbol", 1, FDP.TYPE_STRING),
            _field("limit", 2, FDP.TYPE_INT32),
            _field("timeframe", 3, FDP.TYPE_ENUM, ".trading.test.v1.Timeframe"),
            _field("since", 4, FDP.TYPE_MESSAGE, ".google.protobuf.Timestamp"),
            _field("bar", 5, FDP.TYPE_MESSAGE, ".trading.test.v1.Bar"),
            _field("symbols", 6, FDP.TYPE_STRING, repeated=True),
        ]
    )
    file.message_type.add(name="HistoryResponse").field.extend(
        [_field("bars", 1, FDP.TYPE_MESSAGE, ".trading.test.v1.Bar", repeated=True)]
    )
    svc = file.service.add(name="MarketService")
    get = svc.method.add(
        name="GetHistory",
        input_type=".trading.test.v1.HistoryRequest",
        output_type=".trading.test.v1.HistoryResponse",
    )
    get.options.Extensions[annotations_pb2.http].get = "/api/history/{symbol}"
    post = svc.method.add(
        name="Save", input_type=".trading.test.v1.HistoryRequest", output_type=".trading.test.v1.Bar"
    )
    post.options.Extensions[annotations_pb2.http].post = "/api/history/{symbol=*}:save"
    post.options.Extensions[annotations_pb2.http].body = "*"
    put = svc.method.add(
        name="PutBar", input_type=".trading.test.v1.HistoryRequest", output_type=".trading.test.v1.Bar"
    )
    put.options.Extensions[annotations_pb2.http].put = "/api/bars/{symbol}"
    put.options.Extensions[annotations_pb2.http].body = "bar"
    path = tmp_path / "x.binpb"
    path.write_bytes(descriptor_pb2.FileDescriptorSet(file=[file]).SerializeToString())
    return ProtoIndex.load(path)


def test_path_query_and_body_parameters(tmp_path: Path) -> None:
    doc = build_openapi(_synthetic_index(tmp_path))

    get = doc["paths"]["/api/history/{symbol}"]["get"]
    params = {p["name"]: p for p in get["parameters"]}
    assert params["symbol"]["in"] == "path" and params["symbol"]["required"] is True
    # Remaining top-level scalars become query parameters; the message field `bar` does not.
    assert {n for n, p in params.items() if p["in"] == "query"} == {"limit", "timeframe", "since", "symbols"}
    assert params["since"]["schema"]["format"] == "date-time"
    assert params["symbols"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert params["timeframe"]["schema"]["$ref"].endswith("trading.test.v1.Timeframe")
    assert "requestBody" not in get

    save = doc["paths"]["/api/history/{symbol}:save"]["post"]
    assert [p["name"] for p in save["parameters"]] == ["symbol"]  # body "*": no query
    body = save["requestBody"]["content"]["application/json"]["schema"]
    assert "symbol" not in body["properties"] and "limit" in body["properties"]

    put = doc["paths"]["/api/bars/{symbol}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(".Bar")
    assert "bar" not in {p["name"] for p in put["parameters"]}
    assert put["operationId"] == "MarketService_PutBar"
    assert put["security"] == [{"bearerAuth": []}]


def test_request_schemas_say_what_the_services_check(client: TestClient) -> None:
    """gateway/field_rules.py merged in: ranges, enums, patterns, required fields, oneofs."""
    doc = client.get("/api/docs/openapi.json").json()
    schemas = doc["components"]["schemas"]
    backtest = schemas["trading.market.v1.RunBacktestRequest"]
    assert backtest["required"] == ["strategy", "symbol"]
    assert backtest["additionalProperties"] is False
    commission = backtest["properties"]["commission"]
    assert (commission["minimum"], commission["maximum"], commission["exclusiveMaximum"]) == (0, 0.1, True)
    assert backtest["properties"]["walkForwardSplits"]["not"] == {"enum": [1]}
    assert "x-outside" not in backtest["properties"]["strategy"]  # the tests' probe values stay out
    imports = schemas["trading.market.v1.ImportBarsRequest"]
    assert imports["allOf"] == [
        {"not": {"anyOf": [{"required": ["csvContent", "sample"]}]}},
        {"anyOf": [{"required": ["csvContent", "symbol", "timeframe"]}, {"required": ["sample"]}]},
    ]
    verify = schemas["trading.identity.v1.VerifySecondFactorRequest"]
    assert verify["allOf"][1] == {"anyOf": [{"required": ["totpCode"]}, {"required": ["backupCode"]}]}
    assert schemas["trading.education.v1.CourseContent"]["required"] == ["title", "slug", "level", "tier"]
    history = doc["paths"]["/api/history/{symbol}"]["get"]["parameters"]
    limit = next(p for p in history if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (0, 5000)
    indicators = doc["paths"]["/api/indicators/{symbol}"]["get"]["parameters"]
    assert next(p for p in indicators if p["name"] == "indicators")["required"] is True
    role = doc["paths"]["/api/admin/users/{user_id}/role"]["post"]["requestBody"]["content"]
    body = role["application/json"]["schema"]
    assert body["required"] == ["role"] and body["properties"]["role"]["not"] == {
        "enum": ["ROLE_UNSPECIFIED"]
    }


def test_engine_rendered_json_documents_the_message_it_renders(client: TestClient) -> None:
    """GET /api/history/{symbol} answers google.api.HttpBody (the engine writes the JSON); the
    document shows GetHistoryResponse, the shape it renders, like the transcoded route beside it."""
    doc = client.get("/api/docs/openapi.json").json()
    rendered = doc["paths"]["/api/history/{symbol}"]["get"]
    transcoded = doc["paths"]["/api/history/{symbol}/transcoded"]["get"]
    assert rendered["operationId"] == "MarketDataService_GetHistoryJson"
    schemas = [
        op["responses"]["200"]["content"]["application/json"]["schema"] for op in (rendered, transcoded)
    ]
    assert schemas[0] == schemas[1] == {"$ref": REF + "trading.market.v1.GetHistoryResponse"}
    assert {p["name"] for p in rendered["parameters"]} >= {"symbol", "limit", "timeframe", "packed"}
