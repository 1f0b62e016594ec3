"""ImportBars as an admin calls it: through an in-process server behind the production
interceptors (the handler reads its caller, for the audit log)."""

from __future__ import annotations

from ml_engine.market_data.handlers import MarketDataHandlers
from tests.ml_engine.in_process import serve
from tests.support.in_process import TestCallers
from trading.market.v1 import market_data_service_pb2 as pb
from trading.market.v1 import market_data_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["MarketDataService"].full_name


async def import_as_admin(
    handlers: MarketDataHandlers, callers: TestCallers, request: pb.ImportBarsRequest, admin: str = "admin-1"
) -> pb.ImportBarsResponse:
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        reply: pb.ImportBarsResponse = await stub.ImportBars(
            request, metadata=callers.metadata(subject=admin, roles=("admin",))
        )
        return reply
