import type { Invoice } from "@gen/trading/billing/v1/subscription_service_pb";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { formatMoney } from "./money";

/** Invoices, newest first: date, status, amounts, Stripe's page. */
export function InvoiceTable({ invoices }: { invoices: Invoice[] }) {
  if (invoices.length === 0) return <p className="muted">No invoice yet.</p>;
  return (
    <div className="table-scroll" role="region" aria-label="Invoices" tabIndex={0}>
      <table className="table" data-testid="invoices">
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">Status</th>
            <th scope="col">Due</th>
            <th scope="col">Paid</th>
            <th scope="col">Invoice</th>
          </tr>
        </thead>
        <tbody>
          {invoices.map((i) => (
            <tr key={i.invoiceId} data-testid="invoice-row" data-status={i.status}>
              <td className="time">{i.createdAt ? formatDateTime(timestampDate(i.createdAt)) : ""}</td>
              <td>{i.status}</td>
              <td>{formatMoney(i.amountDueMinor, i.currency)}</td>
              <td>{formatMoney(i.amountPaidMinor, i.currency)}</td>
              <td>
                {i.hostedInvoiceUrl ? (
                  <a href={i.hostedInvoiceUrl} rel="noreferrer">
                    View
                  </a>
                ) : (
                  <code>{i.invoiceId}</code>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
