"""The gateway's calls to business: one channel per event loop and a one-minute service token.

The RPCs the gateway calls (CompleteOAuthLogin, RecordStripeEvent) are allowed to role "service"
only; service_runtime/service_token.py says why a short-lived signed token and no shared secret.
"""

from __future__ import annotations

from gateway.config import SERVICE_SUBJECT, GatewaySettings
from service_runtime.service_token import ServiceChannel
from service_runtime.signing_keys import SigningKeyStore


class BusinessChannel(ServiceChannel):
    def __init__(self, settings: GatewaySettings, keys: SigningKeyStore) -> None:
        super().__init__(
            target=settings.business_grpc_target,
            keys=keys,
            subject=SERVICE_SUBJECT,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            timeout_s=settings.oauth_business_timeout_s,
        )
        self.settings = settings
