"""POST /api/billing/webhooks/stripe: Stripe's webhook events.

The raw body's signature is checked with the SDK (`stripe.Webhook.construct_event`) against
STRIPE_WEBHOOK_SECRET within the tolerance window: a bad or stale signature is 400 and nothing
is stored. A verified event goes, as signed, to business's StripeEventService over gRPC, with a
one-minute service token (role "service"), which stores it by id first and applies it. Any failure
there answers 5xx, so that Stripe delivers the event again (with its own backoff)."""

from __future__ import annotations

import logging

import grpc
import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.business_channel import BusinessChannel
from gateway.config import GatewaySettings
from gateway.errors import error_response
from service_runtime.signing_keys import SigningKeyStore
from trading.billing.v1 import stripe_event_service_pb2 as pb
from trading.billing.v1 import stripe_event_service_pb2_grpc as pb_grpc

PATH = "/api/billing/webhooks/stripe"
log = logging.getLogger(__name__)
# Stripe's events are small; a larger body is not one. Envoy's route for this path has the same
# limit (envoy/routes.py, STRIPE_WEBHOOK_MAX_BYTES).
MAX_BODY_BYTES = 512 * 1024
# What Stripe is answered when business did not record the event: a fixed text per status (the
# event goes again either way). gRPC's own text names business's addresses: it goes to the log.
_NOT_RECORDED = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "the event was not recorded: billing cannot read it"),
    grpc.StatusCode.UNAVAILABLE: (503, "the event was not recorded: billing is unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "the event was not recorded: billing did not answer in time"),
}
_NOT_PROCESSED = (503, "the event was not processed: billing could not apply it now")


class BusinessEvents(BusinessChannel):
    """The one call a webhook makes to business."""

    async def record(self, payload: bytes, request_id: str) -> pb.RecordStripeEventResponse:
        stub = pb_grpc.StripeEventServiceStub(self.channel())
        reply: pb.RecordStripeEventResponse = await stub.RecordStripeEvent(
            pb.RecordStripeEventRequest(payload=payload),
            metadata=self.metadata(request_id),
            timeout=self.timeout_s,
        )
        return reply


def router(settings: GatewaySettings, keys: SigningKeyStore) -> APIRouter:
    api = APIRouter()
    business = BusinessEvents(settings, keys)

    @api.post(PATH)
    async def stripe_webhook(request: Request) -> JSONResponse:
        if not settings.stripe_webhook_secret:
            return error_response(503, "billing is not configured (no STRIPE_WEBHOOK_SECRET)")
        payload = await request.body()
        if len(payload) > MAX_BODY_BYTES:
            return error_response(413, "the event is larger than a Stripe event")
        try:
            event = stripe.Webhook.construct_event(
                payload,
                request.headers.get("stripe-signature", ""),
                settings.stripe_webhook_secret,
                tolerance=settings.stripe_webhook_tolerance_s,
            )
        except stripe.SignatureVerificationError as error:
            return error_response(400, f"invalid Stripe-Signature: {error.user_message or error}")
        except ValueError:
            return error_response(400, "the body is not a JSON Stripe event")
        try:
            reply = await business.record(payload, request.headers.get("x-request-id", ""))
        except grpc.aio.AioRpcError as error:
            log.warning(
                "Stripe event not recorded",
                extra={"event_id": event.id, "code": error.code().name, "details": error.details()},
            )
            return error_response(*_NOT_RECORDED.get(error.code(), _NOT_PROCESSED))
        return JSONResponse(
            {
                "received": True,
                "event_id": reply.event_id,
                "duplicate": reply.duplicate,
                "ignored": reply.ignored,
            }
        )

    return api
