"""Business's channel to the ML engine for the features that read market data and signals
(education's live blocks, paper trading's bar feed, alerts): every call carries a one-minute
service token signed with business's own key (role "service", subject "service:business")."""

from __future__ import annotations

from business.config import BusinessSettings
from service_runtime.service_token import ServiceChannel

SERVICE_SUBJECT = "service:business"


def ml_engine_channel(settings: BusinessSettings) -> ServiceChannel:
    return ServiceChannel(
        target=settings.ml_target,
        keys=settings.signing_keys(),
        subject=SERVICE_SUBJECT,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        timeout_s=settings.ml_service_timeout / 1000,
    )
