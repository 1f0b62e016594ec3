import { createClient } from "@connectrpc/connect";
import { AlertService } from "@gen/trading/alerts/v1/alert_service_pb";
import { SavedBacktestService } from "@gen/trading/alerts/v1/saved_backtest_service_pb";
import { WatchlistService } from "@gen/trading/alerts/v1/watchlist_service_pb";
import { transport } from "../../api/transport";

/** trading.alerts.v1.WatchlistService: the signed-in user's watchlists. */
export const watchlistClient = createClient(WatchlistService, transport);
/** trading.alerts.v1.AlertService: alert rules, fired alerts and their live stream. */
export const alertClient = createClient(AlertService, transport);
/** trading.alerts.v1.SavedBacktestService: saved backtest configurations and summaries. */
export const savedBacktestClient = createClient(SavedBacktestService, transport);
