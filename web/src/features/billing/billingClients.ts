import { createClient } from "@connectrpc/connect";
import { BillingAdminService } from "@gen/trading/billing/v1/billing_admin_service_pb";
import { PlanService } from "@gen/trading/billing/v1/plan_service_pb";
import { SubscriptionService } from "@gen/trading/billing/v1/subscription_service_pb";
import { transport } from "../../api/transport";

/** trading.billing.v1.PlanService: the plans (public). */
export const planClient = createClient(PlanService, transport);
/** trading.billing.v1.SubscriptionService: the signed-in user's subscription. */
export const subscriptionClient = createClient(SubscriptionService, transport);
/** trading.billing.v1.BillingAdminService: ledger, refunds, figures, failed events (admins). */
export const billingAdminClient = createClient(BillingAdminService, transport);
