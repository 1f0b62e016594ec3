import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { toApiError } from "../../api/errors";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Fact, PageHeader } from "../../ui/page";
import { BillingInterval } from "@gen/trading/billing/v1/plan_service_pb";
import { subscriptionClient } from "./billingClients";
import { InvoiceTable } from "./InvoiceTable";
import { formatMoney, INTERVAL_LABEL } from "./money";

const checkoutResult = (): string => new URLSearchParams(window.location.search).get("checkout") ?? "";

/** The signed-in user's plan and subscription: next invoice, invoices, monthly <-> yearly,
 * cancel at period end, resume, Stripe's portal. */
export function BillingPage() {
  const queryClient = useQueryClient();
  const billing = useQuery({
    queryKey: ["billing", "subscription"],
    queryFn: () => subscriptionClient.getSubscription({}),
  });
  const subscription = { ...billing, data: billing.data?.subscription };
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["billing", "subscription"] });
  const cancel = useMutation({ mutationFn: () => subscriptionClient.cancelSubscription({}), onSuccess: refresh });
  const resume = useMutation({ mutationFn: () => subscriptionClient.resumeSubscription({}), onSuccess: refresh });
  const switchInterval = useMutation({
    mutationFn: (interval: BillingInterval) => subscriptionClient.changeBillingInterval({ interval }),
    onSuccess: refresh,
  });
  const portal = useMutation({
    mutationFn: () => subscriptionClient.createPortalSession({}),
    onSuccess: (reply) => window.location.assign(reply.url),
  });
  const failure = cancel.error ?? resume.error ?? portal.error ?? switchInterval.error;
  const next = billing.data?.nextInvoice;
  const invoices = billing.data?.invoices ?? [];
  const sub = subscription.data;
  // The account's plan, whatever gave it: an administrator can make an account pro with no subscription.
  const accountPlan = billing.data?.accountPlan || sub?.plan || "free";
  const end = sub?.currentPeriodEnd ? formatDateTime(timestampDate(sub.currentPeriodEnd)) : "";
  return (
    <div>
      <PageHeader title="Billing" lead="Your plan and your subscription to pro." />
      {checkoutResult() === "success" && (
        <Alert tone="success" testId="checkout-success">
          Thank you: your payment went through. Pro is yours as soon as Stripe confirms it (sign in again if a pro
          feature is still refused).
        </Alert>
      )}
      {subscription.isPending && <Loading />}
      {subscription.isError && <Alert>{toApiError(subscription.error).message}</Alert>}
      {failure && <Alert>{toApiError(failure).message}</Alert>}
      {sub && (
        <section className="card" aria-labelledby="subscription-heading">
          <h2 id="subscription-heading">Subscription</h2>
          <dl className="facts">
            <Fact label="Plan" testId="billing-plan">{accountPlan}</Fact>
            <Fact label="Status" testId="billing-status">{sub.status || "no subscription"}</Fact>
            {sub.status && (
              <Fact label="Billed">every {INTERVAL_LABEL[sub.interval] ?? "period"}</Fact>
            )}
            {end && (
              <Fact label={sub.cancelAtPeriodEnd ? "Ends on" : "Renews on"} testId="billing-period-end">{end}</Fact>
            )}
          </dl>
          {sub.graceEndsAt && (
            <Alert tone="warning" testId="billing-grace">
              Your last payment failed. Pro stays until {formatDateTime(timestampDate(sub.graceEndsAt))}: update your payment method
              in the portal before then.
            </Alert>
          )}
          {next && next.dueAt && (
            <p data-testid="next-invoice">
              Next invoice: {formatMoney(next.amountMinor, next.currency)} on {formatDateTime(timestampDate(next.dueAt))}.
            </p>
          )}
          {!sub.status && accountPlan === "free" && (
            <p>
              You are on the free plan. <Link to="/pricing">See the plans</Link>.
            </p>
          )}
          {!sub.status && accountPlan !== "free" && (
            <p data-testid="plan-granted">
              An administrator gave your account the {accountPlan} plan: there is nothing to pay.
            </p>
          )}
          <div className="page-actions">
            {sub.status && !sub.cancelAtPeriodEnd && sub.status !== "canceled" && (
              <Button variant="secondary" busy={cancel.isPending} onClick={() => cancel.mutate()} data-testid="cancel-subscription">
                Cancel at period end
              </Button>
            )}
            {sub.status && sub.status !== "canceled" && sub.interval !== BillingInterval.UNSPECIFIED && (
              <Button
                variant="secondary"
                busy={switchInterval.isPending}
                data-testid="switch-interval"
                onClick={() =>
                  switchInterval.mutate(sub.interval === BillingInterval.MONTHLY ? BillingInterval.YEARLY : BillingInterval.MONTHLY)
                }
              >
                {sub.interval === BillingInterval.MONTHLY ? "Switch to yearly" : "Switch to monthly"}
              </Button>
            )}
            {sub.cancelAtPeriodEnd && (
              <Button busy={resume.isPending} onClick={() => resume.mutate()} data-testid="resume-subscription">
                Resume
              </Button>
            )}
            {sub.status && (
              <Button variant="secondary" busy={portal.isPending} onClick={() => portal.mutate()}>
                Payment methods and invoices
              </Button>
            )}
          </div>
          {sub.status && (
            <p>
              <Link to="/pricing">Plans and prices</Link>
            </p>
          )}
        </section>
      )}
      {sub && (
        <section className="card" aria-labelledby="invoices-heading">
          <h2 id="invoices-heading">Invoices</h2>
          <InvoiceTable invoices={invoices} />
        </section>
      )}
    </div>
  );
}
