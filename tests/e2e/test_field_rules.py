"""gateway/field_rules.py held to the services, through Envoy: every rule the API reference states
is one the services enforce. For each rule, a valid request of its operation with that one field
just outside the rule is answered 400 naming the field; a request without a required field too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import field_rules
from gateway.field_rules import OUTSIDE, RULES
from service_runtime.proto_index import ProtoIndex, access_rule, http_bindings
from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims
from tests.e2e.accounts import as_plan, register_verified, tokens_of
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import ROOT, Stack

DESCRIPTOR_SET = ROOT / "gen" / "descriptor" / "trading.binpb"
TEMPLATE_VAR = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")
ID = "7d0f4a52-0000-4000-8000-000000000000"

COURSE = {
    "title": "Probe course",
    "slug": "probe-course",
    "level": "COURSE_LEVEL_BEGINNER",
    "tier": "COURSE_TIER_FREE",
}
# A request each rule's operation accepts as far as validation goes (it may still find no such
# user or symbol): proto field names, path variables included.
BASELINES: dict[str, dict[str, Any]] = {
    "trading.identity.v1.RegisterRequest": {
        "email": "probe@example.com",
        "password": "correct horse battery",
    },
    "trading.identity.v1.LoginRequest": {"email": "probe@example.com", "password": "x"},
    "trading.identity.v1.VerifySecondFactorRequest": {"challenge_token": "t", "totp_code": "123456"},
    "trading.identity.v1.RefreshRequest": {"refresh_token": "t"},
    "trading.identity.v1.LogoutRequest": {"refresh_token": "t"},
    "trading.identity.v1.StartPhoneLoginRequest": {"phone_number": "+34600111222"},
    "trading.identity.v1.VerifyPhoneLoginRequest": {"phone_number": "+34600111222", "code": "123456"},
    "trading.identity.v1.VerifyEmailRequest": {"token": "t", "password": "x"},
    "trading.identity.v1.ForgotPasswordRequest": {"email": "probe@example.com"},
    "trading.identity.v1.ResetPasswordRequest": {"token": "t", "new_password": "correct horse battery"},
    "trading.identity.v1.UpdateMeRequest": {},
    "trading.identity.v1.ChangePasswordRequest": {"current_password": "x", "new_password": "correct horse b"},
    "trading.identity.v1.DisableTotpRequest": {"totp_code": "123456"},
    "trading.identity.v1.ConfirmTotpRequest": {"code": "123456"},
    "trading.identity.v1.RevokeSessionRequest": {"session_id": ID},
    "trading.identity.v1.ListUsersRequest": {},
    "trading.identity.v1.SetUserRoleRequest": {"user_id": ID, "role": "ROLE_USER"},
    "trading.identity.v1.SuspendUserRequest": {"user_id": ID, "suspended": True, "reason": "probe"},
    "trading.identity.v1.ListAuditEventsRequest": {},
    "trading.identity.v1.SetUserPlanRequest": {"user_id": ID, "plan": "pro"},
    "trading.identity.v1.RegenerateBackupCodesRequest": {"totp_code": "123456"},
    "trading.identity.v1.UnlinkOAuthProviderRequest": {"provider": "github"},
    "trading.market.v1.GetHistoryRequest": {"symbol": "EURUSD"},
    "trading.market.v1.GetIndicatorsRequest": {"symbol": "EURUSD", "indicators": ["rsi"]},
    "trading.market.v1.RunBacktestRequest": {"strategy": "sma_cross", "symbol": "GOOG"},
    "trading.market.v1.ImportBarsRequest": {"sample": "EURUSD", "dry_run": True},
    "trading.ml.v1.GetStatsRequest": {},
    "trading.ml.v1.ActivateModelVersionRequest": {"name": "intraday_gru", "version": "1"},
    "trading.ml.v1.StartShadowRequest": {"name": "intraday_gru", "version": "1"},
    "trading.ml.v1.PredictRequest": {"symbol": "EURUSD"},
    "trading.ml.v1.GetSignalsRequest": {"symbol": "EURUSD"},
    "trading.education.v1.CreateCourseRequest": {"content": COURSE},
    "trading.education.v1.UpdateCourseRequest": {
        "course_id": ID,
        "expected_revision": "1",
        "content": COURSE,
    },
    "trading.education.v1.PublishCourseRequest": {"course_id": ID, "expected_revision": "1"},
    "trading.education.v1.ArchiveCourseRequest": {"course_id": ID, "expected_revision": "1"},
    "trading.education.v1.ListAuthoredCoursesRequest": {},
    "trading.education.v1.SearchCoursesRequest": {},
    "trading.education.v1.ListEnrollmentsRequest": {},
}
# Messages inside a request: the request that carries one, and the field it is in.
NESTED = {"trading.education.v1.CourseContent": ("trading.education.v1.CreateCourseRequest", "content")}


class Operation:
    """The REST route of one RPC, its access rule's role, and how its fields travel."""

    def __init__(
        self,
        verb: str,
        template: str,
        body: str,
        admin: bool,
        json_names: dict[str, str],
        oneofs: list[set[str]],
    ) -> None:
        self.verb, self.template, self.body, self.admin = verb, template, body, admin
        self.json_names = json_names
        self.oneofs = oneofs

    def with_field(self, baseline: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
        """`baseline` with `name` set to `value`, and the other members of its oneof dropped."""
        siblings = set().union(*(group for group in self.oneofs if name in group)) - {name}
        return {**{k: v for k, v in baseline.items() if k not in siblings}, name: value}

    def send(self, fields: dict[str, Any], auth: dict[str, str]) -> httpx.Response:
        path_vars = TEMPLATE_VAR.findall(self.template)
        path = TEMPLATE_VAR.sub(lambda m: str(fields.get(m.group(1), "x")), self.template)
        rest = {k: v for k, v in fields.items() if k not in path_vars}
        if self.body == "*":
            body = {self.json_names.get(k, k): v for k, v in rest.items()}
            return httpx.request(self.verb, f"{EDGE}{path}", json=body, headers=auth, timeout=30)
        return httpx.request(self.verb, f"{EDGE}{path}", params=rest, headers=auth, timeout=30)


def operations() -> dict[str, Operation]:
    index = ProtoIndex.load(DESCRIPTOR_SET)
    found: dict[str, Operation] = {}
    for file in index.files:
        for service in file.service:
            for method in service.method:
                bindings = http_bindings(method)
                if not bindings:
                    continue
                binding = bindings[0]
                request = method.input_type.lstrip(".")
                fields = index.messages[request].field
                json_names = {f.name: f.json_name for f in fields}
                oneofs = [
                    {f.name for f in fields if f.HasField("oneof_index") and f.oneof_index == i}
                    for i in range(len(index.messages[request].oneof_decl))
                ]
                rule = access_rule(method)
                admin = rule is not None and "user" not in rule.roles and "admin" in rule.roles
                found[request] = Operation(
                    binding.verb.upper(), binding.template, binding.body, admin, json_names, oneofs
                )
    return found


OPERATIONS = operations()


def probes(rule: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(what is broken, the value) for each bound of `rule` a value can step just past."""
    number = rule.get("type") in ("integer", "number")
    step = 1 if rule.get("type") == "integer" else 0.001
    if number and "minimum" in rule:
        yield "minimum", rule["minimum"] if rule.get("exclusiveMinimum") else rule["minimum"] - step
    if number and "maximum" in rule:
        yield "maximum", rule["maximum"] if rule.get("exclusiveMaximum") else rule["maximum"] + step
    if "maxLength" in rule:
        yield "maxLength", "a" * (rule["maxLength"] + 1)
    if rule.get("minLength", 0) > 1:
        yield "minLength", "a" * (rule["minLength"] - 1)
    if rule.get("type") == "array" and rule.get("maxItems"):
        items = rule.get("items", {})
        item = items.get("example", "x") if items.get("type") == "string" else {}
        count = rule["maxItems"] + 1
        yield "maxItems", [f"{item}{i}" for i in range(count)] if rule.get("uniqueItems") else [item] * count
    if rule.get("type") == "array" and "items" in rule and "pattern" in rule["items"]:
        yield "items.pattern", ["Not an item!"]
    if OUTSIDE in rule:
        yield "outside", rule[OUTSIDE]


CASES = [
    pytest.param(key, what, value, id=f"{key.rsplit('.', 2)[-2]}.{key.rsplit('.', 1)[-1]}:{what}")
    for key, rule in RULES.items()
    for what, value in probes(rule)
]
REQUIRED_CASES = [
    pytest.param(message, name, id=f"{message.rsplit('.', 1)[-1]}.{name}")
    for message, names in field_rules.REQUIRED.items()
    for name in names
]


@pytest.fixture(scope="module")
def auth(stack: Stack, smtp_sink: SmtpSink) -> dict[str, dict[str, str]]:
    keys = SigningKeyStore(Path(stack.env["JWT_KEYS_DIR"]))
    # As pro: the rules are about fields, not plans (free is refused horizon "" before its symbol).
    user = as_plan(keys, tokens_of(register_verified(smtp_sink))["accessToken"], "pro")
    return {"user": bearer(user), "admin": bearer(keys.sign(claims(sub="admin-probe", roles=["admin"])))}


def violated(reply: httpx.Response) -> set[str]:
    """The fields a refusal names, each also as its parents ("content.tags[0]" names "content.tags")."""
    names = {v["field"] for d in reply.json().get("details", []) for v in d.get("fieldViolations", [])}
    return names | {re.sub(r"\[\d+\]$", "", n) for n in names}


def test_every_rule_names_a_request_field_with_a_baseline() -> None:
    index = ProtoIndex.load(DESCRIPTOR_SET)
    for key in RULES:
        message, _, name = key.rpartition(".")
        message = NESTED.get(message, (message, ""))[0]
        assert message in BASELINES, f"no baseline request for {message}"
        assert name in {f.name for f in index.messages[key.rpartition(".")[0]].field}, key
    for message, names in field_rules.REQUIRED.items():
        assert set(names) <= {f.name for f in index.messages[message].field}, message
        assert NESTED.get(message, (message, ""))[0] in BASELINES, f"no baseline request for {message}"


@pytest.mark.parametrize(("key", "what", "value"), CASES)
def test_a_value_outside_a_rule_is_refused_naming_the_field(
    stack: Stack, auth: dict[str, dict[str, str]], key: str, what: str, value: Any
) -> None:
    message, _, name = key.rpartition(".")
    if message in NESTED:
        message, outer = NESTED[message]
        fields = {**BASELINES[message], outer: {**BASELINES[message][outer], name: value}}
        name = f"{outer}.{name}"
    else:
        fields = OPERATIONS[message].with_field(BASELINES[message], name, value)
    operation = OPERATIONS[message]
    reply = operation.send(fields, auth["admin" if operation.admin else "user"])
    assert reply.status_code == 400, f"{key} {what}={value!r}: {reply.status_code} {reply.text}"
    assert name in violated(reply), reply.text


@pytest.mark.parametrize(("message", "name"), REQUIRED_CASES)
def test_a_request_without_a_required_field_is_refused_naming_it(
    stack: Stack, auth: dict[str, dict[str, str]], message: str, name: str
) -> None:
    if message in NESTED:
        message, outer = NESTED[message]
        inner = {k: v for k, v in BASELINES[message][outer].items() if k != name}
        fields = {**BASELINES[message], outer: inner}
        name = f"{outer}.{name}"
    else:
        fields = {k: v for k, v in BASELINES[message].items() if k != name}
    operation = OPERATIONS[message]
    reply = operation.send(fields, auth["admin" if operation.admin else "user"])
    assert reply.status_code == 400, reply.text
    # A missing message field is named, or the fields inside it that its absence leaves empty.
    assert any(v == name or v.startswith(f"{name}.") for v in violated(reply)), reply.text


@pytest.mark.parametrize(
    ("key", "companion"),
    [(key, name) for key, names in field_rules.REQUIRED_WITH.items() for name in names],
)
def test_a_field_without_its_companions_is_refused_naming_them(
    stack: Stack, auth: dict[str, dict[str, str]], key: str, companion: str
) -> None:
    message, _, name = key.rpartition(".")
    operation = OPERATIONS[message]
    full = {
        "csv_content": "time,open,high,low,close\n2020-01-01,1,1,1,1\n",
        "symbol": "PROBE",
        "timeframe": "1d",
    }
    fields = {
        k: v for k, v in operation.with_field(BASELINES[message], name, full[name]).items() if k != companion
    }
    fields.update({k: v for k, v in full.items() if k not in (name, companion)})
    reply = operation.send(fields, auth["admin" if operation.admin else "user"])
    assert reply.status_code == 400, reply.text
    assert companion in violated(reply), reply.text


def test_a_request_with_hundreds_of_violations_is_a_400_not_a_503(
    stack: Stack, auth: dict[str, dict[str, str]]
) -> None:
    """Every violation of a course's content is collected; the refusal carried them all in its
    trailers, past what gRPC sends, and the caller got 503 (found by the contract fuzzer)."""
    lesson = {"title": "", "estimatedMinutes": -1, "videoUrl": "ftp://x", "quiz": {"passingScorePercent": 0}}
    modules = [{"title": "", "lessons": [lesson] * 4} for _ in range(50)]
    body = {"content": {**COURSE, "modules": modules}}
    reply = httpx.post(f"{EDGE}/api/authoring/courses", json=body, headers=auth["admin"], timeout=30)
    assert reply.status_code == 400, reply.text
    named = violated(reply)
    assert "content.modules[0].title" in named and len(named) <= 60
    assert "more" in reply.json()["message"]
