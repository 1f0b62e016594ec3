"""Plans through Envoy: the public ListPlans (REST and gRPC-Web), and the edge's plan check: a
token whose plan the RPC's access rule does not list is refused by Envoy itself (403 /
PERMISSION_DENIED naming the plan needed) before the service sees it; one with the plan passes."""

from __future__ import annotations

from urllib.parse import unquote

import httpx

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims
from tests.e2e import grpc_web
from tools.supervisor import Stack
from trading.billing.v1 import plan_service_pb2 as plans_pb
from trading.education.v1 import learning_service_pb2 as learning_pb

PRO_ENROLMENT = "/api/learning/pro-courses/{course_id}/enrollment"
EDGE_REFUSAL = "requires plan pro (this token's plan: free)"


def test_list_plans_is_public_over_rest_and_grpc_web(stack: Stack) -> None:
    reply = httpx.get(f"{EDGE}/api/billing/plans")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [p["id"] for p in body["plans"]] == ["free", "pro"]
    assert body["billingConfigured"] is True  # the test stack talks to the local Stripe API
    pro = body["plans"][1]
    assert {p["interval"] for p in pro["prices"]} == {"BILLING_INTERVAL_MONTHLY", "BILLING_INTERVAL_YEARLY"}
    assert "/trading.education.v1.LearningService/EnrollProCourse" in pro["exclusiveRpcs"]

    web = grpc_web.call(f"{EDGE}/trading.billing.v1.PlanService/ListPlans", plans_pb.ListPlansRequest())
    assert web.grpc_status == 0, web.grpc_message
    decoded = plans_pb.ListPlansResponse.FromString(web.messages[0])
    assert [p.id for p in decoded.plans] == ["free", "pro"]


def test_the_edge_refuses_a_free_token_on_a_pro_rpc_naming_the_plan(
    stack: Stack, keys: SigningKeyStore
) -> None:
    free = keys.sign(claims(sub="plan-free-user", roles=["user"], plan="free"))
    reply = httpx.post(f"{EDGE}{PRO_ENROLMENT.format(course_id='any-course')}", json={}, headers=bearer(free))
    assert reply.status_code == 403, reply.text
    body = reply.json()
    # The edge's own words (the service would say only "requires plan pro"): Envoy refused it.
    assert (body["error"], body["message"]) == ("permission_denied", EDGE_REFUSAL)
    assert body["request_id"]

    web = grpc_web.call(
        f"{EDGE}/trading.education.v1.LearningService/EnrollProCourse",
        learning_pb.EnrollProCourseRequest(course_id="any-course"),
        bearer(free),
    )
    assert web.grpc_status == 7 and unquote(web.grpc_message) == EDGE_REFUSAL, web


def test_a_token_without_a_plan_is_refused_and_a_pro_token_passes_the_edge(
    stack: Stack, keys: SigningKeyStore
) -> None:
    planless = keys.sign(claims(sub="plan-none-user", roles=["user"], plan=""))
    refused = httpx.post(f"{EDGE}{PRO_ENROLMENT.format(course_id='x')}", json={}, headers=bearer(planless))
    assert refused.status_code == 403 and "this token's plan: none" in refused.json()["message"]

    pro = keys.sign(claims(sub="plan-pro-user", roles=["user"], plan="pro"))
    passed = httpx.post(
        f"{EDGE}{PRO_ENROLMENT.format(course_id='no-such-course')}", json={}, headers=bearer(pro)
    )
    # Past the edge, the service answers for itself: the course does not exist.
    assert passed.status_code == 404, passed.text
    assert "plan" not in passed.json()["message"]
