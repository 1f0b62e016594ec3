import { createClient } from "@connectrpc/connect";
import { PaperTradingService } from "@gen/trading/paper/v1/paper_trading_service_pb";
import { transport } from "../../api/transport";

/** trading.paper.v1.PaperTradingService: paper portfolios, orders, fills, equity. */
export const paperClient = createClient(PaperTradingService, transport);
