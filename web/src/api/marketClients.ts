import { createClient } from "@connectrpc/connect";
import { BacktestService } from "@gen/trading/market/v1/backtest_service_pb";
import { IndicatorService } from "@gen/trading/market/v1/indicator_service_pb";
import { MarketDataService } from "@gen/trading/market/v1/market_data_service_pb";
import { ModelPromotionService } from "@gen/trading/ml/v1/model_promotion_service_pb";
import { ModelService } from "@gen/trading/ml/v1/model_service_pb";
import { PredictionService } from "@gen/trading/ml/v1/prediction_service_pb";
import { transport } from "./transport";

/** trading.market.v1.MarketDataService (symbols, history). */
export const marketClient = createClient(MarketDataService, transport);
/** trading.market.v1.IndicatorService (the catalogue, values). */
export const indicatorClient = createClient(IndicatorService, transport);
/** trading.market.v1.BacktestService (the strategy catalogue, runs). */
export const backtestClient = createClient(BacktestService, transport);
/** trading.ml.v1.PredictionService (predictions, signals, the live stream, scores). */
export const predictionClient = createClient(PredictionService, transport);
/** trading.ml.v1.ModelService (the model repository). */
export const modelClient = createClient(ModelService, transport);
/** trading.ml.v1.ModelPromotionService (role admin: shadow versions, comparison, promotion). */
export const promotionClient = createClient(ModelPromotionService, transport);
