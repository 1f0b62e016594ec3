import { createClient } from "@connectrpc/connect";
import { PlanService } from "@gen/trading/billing/v1/plan_service_pb";
import { SubscriptionService } from "@gen/trading/billing/v1/subscription_service_pb";
import { transport } from "../../api/transport";

/** trading.billing.v1.PlanService: the plans (public). */
export const planClient = createClient(PlanService, transport);
/** trading.billing.v1.SubscriptionService: the signed-in user's subscription. */
export const subscriptionClient = createClient(SubscriptionService, transport);
