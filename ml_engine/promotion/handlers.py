"""ModelPromotionService handlers: requests -> the promotion use cases -> responses."""

from __future__ import annotations

import math

import grpc

from ml_engine.promotion.domain.comparison import Verdict
from ml_engine.promotion.service import PromotionService, ShadowView
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import to_timestamp
from trading.ml.v1 import model_promotion_service_pb2 as pb
from trading.ml.v1 import model_promotion_service_pb2_grpc as pb_grpc

VERDICTS = {
    Verdict.NOT_ENOUGH_DATA: pb.SHADOW_VERDICT_NOT_ENOUGH_DATA,
    Verdict.NO_DIFFERENCE: pb.SHADOW_VERDICT_NO_SIGNIFICANT_DIFFERENCE,
    Verdict.SHADOW_BETTER: pb.SHADOW_VERDICT_SHADOW_BETTER,
    Verdict.SHADOW_WORSE: pb.SHADOW_VERDICT_SHADOW_WORSE,
}


def shadow_message(view: ShadowView) -> pb.Shadow:
    return pb.Shadow(
        name=view.name,
        shadow_version=view.shadow_version,
        active_version=view.active_version,
        horizon=view.horizon,
        started_at=to_timestamp(view.started_at),
        recorded=view.recorded,
        scored=view.scored,
    )


def required_name(name: str) -> str:
    if not name.strip():
        raise InvalidArgument.field("name", "is required")
    return name.strip()


def finite(value: float) -> float:
    """JSON has no NaN for a statistic that could not be computed: 0 (the verdict says why)."""
    return value if math.isfinite(value) else (0.0 if math.isnan(value) else math.copysign(1e308, value))


class PromotionHandlers(pb_grpc.ModelPromotionServiceServicer):
    def __init__(self, promotion: PromotionService) -> None:
        self.promotion = promotion

    async def ListShadows(
        self, request: pb.ListShadowsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListShadowsResponse:
        settings = self.promotion.settings
        return pb.ListShadowsResponse(
            shadows=[shadow_message(v) for v in await self.promotion.list_shadows()],
            auto_promote=settings.ml_auto_promote,
            auto_promote_min_scored=settings.ml_auto_promote_min_scored,
            auto_promote_p_value=settings.ml_auto_promote_p_value,
        )

    async def StartShadow(
        self, request: pb.StartShadowRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartShadowResponse:
        # The service checks name and version inside its audited block: refusals are audited too.
        view = await self.promotion.start(request.name, request.version, current_caller().subject)
        return pb.StartShadowResponse(shadow=shadow_message(view))

    async def StopShadow(
        self, request: pb.StopShadowRequest, context: grpc.aio.ServicerContext
    ) -> pb.StopShadowResponse:
        await self.promotion.stop(request.name, current_caller().subject)
        return pb.StopShadowResponse()

    async def CompareShadow(
        self, request: pb.CompareShadowRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompareShadowResponse:
        view, comparison = await self.promotion.compare(required_name(request.name))
        return pb.CompareShadowResponse(
            shadow=shadow_message(view),
            metrics=[
                pb.MetricComparison(
                    metric=m.metric,
                    n=m.n,
                    mean_loss_active=m.mean_loss_active,
                    mean_loss_shadow=m.mean_loss_shadow,
                    dm_statistic=finite(m.dm_statistic),
                    p_value=m.p_value,
                    verdict=VERDICTS[m.verdict],
                )
                for m in comparison.metrics
            ],
            verdict=VERDICTS[comparison.verdict],
            summary=comparison.summary,
            p_value_threshold=self.promotion.alpha,
        )

    async def PromoteShadow(
        self, request: pb.PromoteShadowRequest, context: grpc.aio.ServicerContext
    ) -> pb.PromoteShadowResponse:
        promotion = await self.promotion.promote(request.name, current_caller().subject)
        return pb.PromoteShadowResponse(
            name=promotion.name, from_version=promotion.from_version, active_version=promotion.to_version
        )
