import { BillingInterval, type Plan } from "@gen/trading/billing/v1/plan_service_pb";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { toApiError } from "../../api/errors";
import { useSession } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { PageHeader } from "../../ui/page";
import { planClient, subscriptionClient } from "./billingClients";
import { formatMoney, perInterval } from "./money";

function PlanCard({
  plan,
  current,
  canBuy,
  onBuy,
  busy,
}: {
  plan: Plan;
  current: boolean;
  canBuy: boolean;
  onBuy: (interval: BillingInterval) => void;
  busy: boolean;
}) {
  const headingId = `plan-${plan.id}`;
  return (
    <article className="card" aria-labelledby={headingId} data-testid="plan-card" data-plan={plan.id}>
      <div className="card-header">
        <h2 id={headingId}>{plan.name}</h2>
        {current && <span className="badge badge-ok">Your plan</span>}
      </div>
      <p className="muted">{plan.summary}</p>
      <ul>
        {plan.features.map((feature) => (
          <li key={feature}>{feature}</li>
        ))}
      </ul>
      {plan.prices.length === 0 ? (
        <p data-testid="plan-price">Free</p>
      ) : (
        <ul>
          {plan.prices.map((price) => (
            <li key={price.interval} data-testid="plan-price">
              <strong>{formatMoney(price.amountMinor, price.currency)}</strong> {perInterval(price.interval)}{" "}
              {canBuy && price.purchasable && !current && (
                <Button
                  variant="primary"
                  busy={busy}
                  onClick={() => onBuy(price.interval)}
                  data-testid={`subscribe-${price.interval === BillingInterval.YEARLY ? "yearly" : "monthly"}`}
                >
                  Subscribe {perInterval(price.interval)}
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}

/** The plans from ListPlans (public); a signed-in user subscribes through Stripe Checkout. */
export function PricingPage() {
  const session = useSession();
  const signedIn = session.status === "signed-in";
  const plans = useQuery({ queryKey: ["billing", "plans"], queryFn: () => planClient.listPlans({}) });
  const checkout = useMutation({
    mutationFn: (interval: BillingInterval) => subscriptionClient.createCheckoutSession({ interval }),
    onSuccess: (reply) => window.location.assign(reply.url),
  });
  const currentPlan = signedIn ? session.user?.plan ?? "free" : "";
  return (
    <div>
      <PageHeader title="Pricing" lead="Free to learn and explore; pro for every model, live." />
      {plans.isPending && <Loading />}
      {plans.isError && <Alert>{toApiError(plans.error).message}</Alert>}
      {plans.data && !plans.data.billingConfigured && (
        <Alert tone="info" testId="billing-not-configured">
          Billing is not configured on this installation: plans cannot be bought here, and an administrator sets
          them.
        </Alert>
      )}
      {plans.data && plans.data.billingConfigured && !signedIn && (
        <Alert tone="info">
          <Link to="/sign-in" search={{ redirect: "/pricing" }}>
            Sign in
          </Link>{" "}
          to subscribe.
        </Alert>
      )}
      {checkout.isError && <Alert>{toApiError(checkout.error).message}</Alert>}
      {plans.data && (
        <div className="cards">
          {plans.data.plans.map((plan) => (
            <PlanCard
              key={plan.id}
              plan={plan}
              current={plan.id === currentPlan}
              canBuy={signedIn && plans.data.billingConfigured}
              onBuy={(interval) => checkout.mutate(interval)}
              busy={checkout.isPending}
            />
          ))}
        </div>
      )}
    </div>
  );
}
