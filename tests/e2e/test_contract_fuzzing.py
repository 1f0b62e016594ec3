"""Contract fuzzing: schemathesis generates requests from the OpenAPI the gateway serves
(`/api/docs/openapi.json`, built from the protos) and sends them through Envoy with real tokens.
Every operation is fuzzed: with a user's token, the admin ones with an admin's, and the ones that
end something (logout, delete, revoke, suspend, a role change, a password change) last, each with
a throwaway account of its own. Two checks on every answer: no 5xx, and the answer conforms to
the operation's documented schema (status and body; errors are the Error envelope).

The run is bounded to fit CI: FUZZ_MAX_EXAMPLES generated requests per operation and mode
(schema-valid and schema-invalid data), each request under REQUEST_TIMEOUT_S, and past
FUZZ_BUDGET_S the operations still to go get 2 examples each (all are still fuzzed). A stack of its
own, with stores of its own and lock-outs and rate limits out of reach, so that thousands of
generated sign-ins neither slow down nor lock out the rest of the suite. Run it alone with
`.venv/bin/python -m pytest -q tests/e2e/test_contract_fuzzing.py` (README, "Contract fuzzing").
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from business.identity.admin_cli import create_admin
from tests.conftest import stack_env
from tests.support.oidc_provider import OidcProvider
from tests.support.ports import free_ports
from tests.support.smtp_sink import SmtpSink
from tests.support.twilio_api import TwilioApi
from tools.supervisor import Stack

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
# Past this many seconds of fuzzing, the operations still to go get 2 examples per mode.
BUDGET_S = float(os.environ.get("FUZZ_BUDGET_S", "240"))
REQUEST_TIMEOUT_S = 20.0
# Share of schema-valid requests the services may refuse as invalid_argument (spent links, page
# tokens, wrong current passwords: checks no schema can state).
MAX_REFUSED_AS_INVALID = 0.2
PASSWORD = "fuzzing passphrase 1357 horse"
PORTS = (
    "ENVOY_PORT",
    "ENVOY_ADMIN_PORT",
    "GATEWAY_PORT",
    "BUSINESS_GRPC_PORT",
    "ML_GRPC_PORT",
    "BUSINESS_METRICS_PORT",
    "ML_METRICS_PORT",
)
# Operations that end a session, an account's standing or a second factor: run last, each with
# an account nobody else uses.
DESTRUCTIVE = re.compile(r"logout|delete|revoke|suspend|role|password|totp|disable", re.IGNORECASE)


@pytest.fixture(scope="module")
def fuzz_stack(
    tmp_path_factory: pytest.TempPathFactory,
    smtp_sink: SmtpSink,
    twilio_api: TwilioApi,
    oidc_provider: OidcProvider,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("fuzz")
    env = stack_env(tmp)
    env.update({name: str(port) for name, port in zip(PORTS, free_ports(len(PORTS)), strict=True)})
    edge = f"http://127.0.0.1:{env['ENVOY_PORT']}"
    env.update(
        PUBLIC_API_URL=edge,
        # Stores of its own: nothing shared with the session's stack.
        DATABASE_URL=f"sqlite:///{tmp / 'business.db'}",
        MYSQL_HOST="",
        REDIS_URL="",
        # Generated sign-ins fail by the thousand from one address: lock-outs and rate limits are
        # other tests' subject, here they would only stop the fuzzer reaching the services.
        ATTEMPT_LIMIT_PER_IP="100000",
        ATTEMPT_LIMIT_PER_ACCOUNT="100000",
        RATE_LIMIT_SCALE="1000",
        ML_SCORE_INTERVAL_S="0",
    )
    env.update(smtp_sink.env())
    env.update(twilio_api.env())
    env.update(oidc_provider.env())
    stack = Stack(env=env, log_dir=tmp / "logs")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def edge_of(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.edge.envoy_port}"


def access_token(edge: str, email: str) -> str:
    reply = httpx.post(f"{edge}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert reply.status_code == 200, reply.text
    token: str = reply.json()["tokens"]["accessToken"]
    return token


@dataclass
class Outcome:
    """What one operation's generated requests got back."""

    sent: dict[str, int] = field(default_factory=lambda: {"positive": 0, "negative": 0})
    accepted: int = 0  # schema-valid requests answered 2xx
    # Why schema-valid requests were refused: "status error: message", counted.
    refusals: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def refused_as_invalid(self) -> int:
        """Schema-valid requests the services called invalid: the schema said less than they check."""
        return sum(n for why, n in self.refusals.items() if why.startswith("400 invalid_argument"))

    def line(self, label: str) -> str:
        head = f"{label}: sent {self.sent}, accepted {self.accepted}/{self.sent['positive']}"
        refusals = "".join(f"\n    refused x{n}: {why}" for why, n in self.refusals.most_common(3))
        return head + refusals + "".join(f"\n    FAILED {f}" for f in self.failures)


def _refusal(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} (not JSON)"
    if not isinstance(body, dict):
        return f"{response.status_code} (not an object)"
    message = re.sub(r"\d+", "N", str(body.get("message", "")))[:90]
    return f"{response.status_code} {body.get('error', '')}: {message}"


def fuzz(
    operation: Any, mode: GenerationMode, headers: dict[str, str], examples: int, outcome: Outcome
) -> None:
    @settings(
        max_examples=examples,
        # No per-example time limit (the suite asserts no timings); each request has REQUEST_TIMEOUT_S.
        deadline=None,
        database=None,
        derandomize=True,
        # Shrinking repeats calls; the first failing request is reported as it was sent.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=headers, timeout=REQUEST_TIMEOUT_S)
        outcome.sent[mode.value] += 1
        if mode is GenerationMode.POSITIVE and response.status_code < 300:
            outcome.accepted += 1
        elif mode is GenerationMode.POSITIVE:
            outcome.refusals[_refusal(response)] += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        run()
    except Unsatisfiable:  # nothing to vary (an operation without inputs, in negative mode)
        pass
    except (Exception, BaseExceptionGroup) as failure:  # reported below; the other operations still run
        outcome.failures.append(f"{mode.value}: {failure}")


class Accounts:
    """Tokens for the fuzzer: one user and one admin for what reads or adds, and a fresh account for
    each operation that ends something, so that none of them cuts the others off."""

    def __init__(self, stack: Stack, smtp_sink: SmtpSink) -> None:
        self.stack, self.smtp_sink, self.edge = stack, smtp_sink, edge_of(stack)
        self.user = self.new_user()
        self.admin = self.new_admin()

    def new_user(self) -> str:
        email = f"fuzz-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": PASSWORD, "displayName": "Fuzz"}
        assert httpx.post(f"{self.edge}/api/auth/register", json=body, timeout=30).status_code == 200
        link = SmtpSink.link_token(self.smtp_sink.wait_for(email, subject_contains="confirm"))
        verified = httpx.post(
            f"{self.edge}/api/auth/email/verify", json={"token": link, "password": PASSWORD}, timeout=30
        )
        assert verified.status_code == 200, verified.text
        return access_token(self.edge, email)

    def new_admin(self) -> str:
        email = f"fuzz-admin-{uuid.uuid4().hex[:8]}@example.com"
        create_admin(self.stack.env["DATABASE_URL"], email, PASSWORD, "Fuzz admin")
        return access_token(self.edge, email)

    def token_for(self, operation: Any) -> str:
        roles = operation.definition.raw.get("x-required-roles", [])
        admin_only = "admin" in roles and "user" not in roles
        if DESTRUCTIVE.search(operation.label):
            return self.new_admin() if admin_only else self.new_user()
        return self.admin if admin_only else self.user


def test_every_operation_survives_generated_requests(fuzz_stack: Stack, smtp_sink: SmtpSink) -> None:
    edge = edge_of(fuzz_stack)
    schema = schemathesis.openapi.from_url(f"{edge}/api/docs/openapi.json")
    schema.config.update(base_url=edge)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    accounts = Accounts(fuzz_stack, smtp_sink)

    started = time.monotonic()
    outcomes: dict[str, Outcome] = {}
    # What ends something runs last; past the budget, the rest still runs, with fewer examples.
    for operation in sorted(operations, key=lambda op: bool(DESTRUCTIVE.search(op.label))):
        outcome = outcomes.setdefault(operation.label, Outcome())
        examples = MAX_EXAMPLES if time.monotonic() - started < BUDGET_S else 2
        headers = {"authorization": f"Bearer {accounts.token_for(operation)}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, headers, examples, outcome)

    sent = sum(o.sent["positive"] for o in outcomes.values())
    invalid = sum(o.refused_as_invalid for o in outcomes.values())
    report = "\n".join(o.line(label) for label, o in outcomes.items())
    summary = (
        f"{len(outcomes)} operations, {sum(sum(o.sent.values()) for o in outcomes.values())} requests in "
        f"{time.monotonic() - started:.0f} s; schema-valid requests: {sent}, accepted "
        f"{sum(o.accepted for o in outcomes.values())}, refused as invalid {invalid}"
    )
    print(f"{report}\n{summary}")
    failed = [label for label, o in outcomes.items() if o.failures]
    assert not failed, f"{len(failed)} operations failed: {failed}\n{report}"
    # The schemas say what the services check (gateway/field_rules.py): data they allow is mostly
    # taken, and what is refused is refused for what no schema can know (no such symbol, a wrong
    # password, a spent link), not as invalid.
    assert invalid <= sent * MAX_REFUSED_AS_INVALID, f"{summary}\n{report}"
