import type { Payment } from "@gen/trading/billing/v1/billing_admin_service_pb";
import { RefundReason } from "@gen/trading/billing/v1/billing_admin_service_pb";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate, useSearch } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { toApiError } from "../../api/errors";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { Fact, PageHeader } from "../../ui/page";
import { billingAdminClient } from "./billingClients";
import { InvoiceTable } from "./InvoiceTable";
import { formatMoney, parseMinor } from "./money";

function Figures() {
  const figures = useQuery({ queryKey: ["admin-billing", "figures"], queryFn: () => billingAdminClient.getBillingFigures({}) });
  if (figures.isPending) return <Loading />;
  if (figures.isError) return <Alert>{toApiError(figures.error).message}</Alert>;
  const f = figures.data;
  return (
    <section className="card" aria-labelledby="figures-heading">
      <h2 id="figures-heading">Figures</h2>
      <dl className="facts" data-testid="billing-figures">
        <Fact label="Active subscriptions" testId="figure-active">{String(f.activeSubscriptions)}</Fact>
        <Fact label="Past due">{String(f.pastDueSubscriptions)}</Fact>
        <Fact label="MRR" testId="figure-mrr">{f.currency ? formatMoney(f.mrrMinor, f.currency) : "–"}</Fact>
        <Fact label="Churn, last 30 days">
          {(f.churnRate * 100).toFixed(1)}% ({String(f.churnedLast30Days)} of {String(f.live30DaysAgo)})
        </Fact>
      </dl>
    </section>
  );
}

function FailedEvents() {
  const queryClient = useQueryClient();
  const events = useQuery({ queryKey: ["admin-billing", "events"], queryFn: () => billingAdminClient.listStripeEvents({}) });
  const retry = useMutation({
    mutationFn: (eventId: string) => billingAdminClient.retryStripeEvent({ eventId }),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["admin-billing", "events"] }),
  });
  return (
    <section className="card" aria-labelledby="events-heading">
      <h2 id="events-heading">Webhook events that failed</h2>
      {events.isPending && <Loading />}
      {events.isError && <Alert>{toApiError(events.error).message}</Alert>}
      {retry.error && <Alert>{toApiError(retry.error).message}</Alert>}
      {events.data && events.data.events.length === 0 && <p className="muted">None: every event was processed.</p>}
      {events.data && events.data.events.length > 0 && (
        <div className="table-scroll" role="region" aria-label="Failed webhook events" tabIndex={0}>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Type</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Retry</th>
              </tr>
            </thead>
            <tbody>
              {events.data.events.map((e) => (
                <tr key={e.eventId} data-testid="failed-event">
                  <th scope="row" className="id">
                    {e.eventId}
                  </th>
                  <td>
                    <code>{e.type}</code>
                  </td>
                  <td>{e.attempts}</td>
                  <td>{e.lastError}</td>
                  <td className="time">{e.nextAttemptAt ? formatDateTime(timestampDate(e.nextAttemptAt)) : "admins only"}</td>
                  <td>
                    <Button variant="secondary" busy={retry.isPending && retry.variables === e.eventId} onClick={() => retry.mutate(e.eventId)}>
                      Retry now
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function RefundForm({ payment, userId }: { payment: Payment; userId: string }) {
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState("");
  const [invalid, setInvalid] = useState("");
  const left = payment.amountMinor - payment.amountRefundedMinor;
  const refund = useMutation({
    mutationFn: (amountMinor: bigint) =>
      billingAdminClient.refundPayment({ paymentId: payment.paymentId, amountMinor, reason: RefundReason.REQUESTED_BY_CUSTOMER }),
    onSuccess: () => {
      setAmount("");
      void queryClient.invalidateQueries({ queryKey: ["admin-billing", "customer", userId] });
    },
  });
  if (payment.status !== "succeeded" || left <= 0n) return <span className="muted">–</span>;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const minor = amount.trim() ? parseMinor(amount, payment.currency) : 0n;
    setInvalid(minor === null ? "Enter an amount such as 7.50" : "");
    if (minor !== null) refund.mutate(minor);
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label={`Refund ${payment.paymentId}`} data-testid="refund-form">
      <TextField label="Amount" name="amount" value={amount} onChange={setAmount} error={invalid || undefined} hint={`Empty: all that is left (${formatMoney(left, payment.currency)}).`} inputMode="decimal" />
      <Button type="submit" variant="secondary" busy={refund.isPending}>
        Refund
      </Button>
      {refund.error && <Alert>{toApiError(refund.error).message}</Alert>}
    </form>
  );
}

function Customer({ userId }: { userId: string }) {
  const customer = useQuery({
    queryKey: ["admin-billing", "customer", userId],
    queryFn: () => billingAdminClient.getBillingCustomer({ userId }),
  });
  if (customer.isPending) return <Loading />;
  if (customer.isError) return <Alert>{toApiError(customer.error).message}</Alert>;
  const c = customer.data;
  const sub = c.subscription;
  return (
    <section className="card" aria-labelledby="customer-heading" data-testid="billing-customer">
      <h2 id="customer-heading">Customer {c.userId}</h2>
      <dl className="facts">
        <Fact label="Stripe customer" className="id">{c.stripeCustomerId || "none"}</Fact>
        <Fact label="Plan">{sub?.plan ?? "free"}</Fact>
        <Fact label="Status">{sub?.status || "no subscription"}</Fact>
      </dl>
      <h3>Invoices</h3>
      <InvoiceTable invoices={c.invoices} />
      <h3>Payments</h3>
      {c.payments.length === 0 ? (
        <p className="muted">No payment.</p>
      ) : (
        <div className="table-scroll" role="region" aria-label="Payments" tabIndex={0}>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Payment</th>
                <th scope="col">Date</th>
                <th scope="col">Status</th>
                <th scope="col">Amount</th>
                <th scope="col">Refunded</th>
                <th scope="col">Refund</th>
              </tr>
            </thead>
            <tbody>
              {c.payments.map((p) => (
                <tr key={p.paymentId} data-testid="payment-row">
                  <th scope="row" className="id">
                    {p.paymentId}
                  </th>
                  <td className="time">{p.createdAt ? formatDateTime(timestampDate(p.createdAt)) : ""}</td>
                  <td>{p.status}</td>
                  <td>{formatMoney(p.amountMinor, p.currency)}</td>
                  <td data-testid="payment-refunded">{formatMoney(p.amountRefundedMinor, p.currency)}</td>
                  <td>
                    <RefundForm payment={p} userId={c.userId} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Refunds</h3>
      {c.refunds.length === 0 ? (
        <p className="muted">No refund.</p>
      ) : (
        <ul data-testid="refunds">
          {c.refunds.map((r) => (
            <li key={r.refundId}>
              {formatMoney(r.amountMinor, r.currency)} of <code>{r.paymentId}</code>, {r.status}
              {r.reason ? ` (${r.reason.replaceAll("_", " ")})` : ""}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Billing for admins: the figures, webhook events that failed (retry now), and one customer's
 * ledger with refunds. */
export function AdminBillingPage() {
  const search = useSearch({ from: "/admin/billing" });
  const navigate = useNavigate();
  const [draft, setDraft] = useState(search.user ?? "");
  const lookUp = (e: FormEvent) => {
    e.preventDefault();
    void navigate({ to: "/admin/billing", search: { user: draft.trim() || undefined } });
  };
  return (
    <div className="page">
      <PageHeader title="Revenue" lead="Subscriptions, MRR and churn, Stripe's events, and each customer's invoices, payments and refunds." />
      <Figures />
      <FailedEvents />
      <form className="filters" onSubmit={lookUp} role="search" aria-label="Find a customer">
        <TextField markOptional={false} label="User id" name="user" value={draft} onChange={setDraft} />
        <div className="filters-submit">
          <Button type="submit">Show customer</Button>
        </div>
      </form>
      {search.user && <Customer userId={search.user} />}
    </div>
  );
}
