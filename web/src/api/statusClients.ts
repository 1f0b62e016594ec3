import { createClient } from "@connectrpc/connect";
import { EngineService } from "@gen/trading/ml/v1/engine_service_pb";
import { StatusService } from "@gen/trading/status/v1/status_service_pb";
import { transport } from "./transport";

/** trading.status.v1.StatusService (public platform health). */
export const statusClient = createClient(StatusService, transport);
/** trading.ml.v1.EngineService (ML engine health and stats). */
export const engineClient = createClient(EngineService, transport);
