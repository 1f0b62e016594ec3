import { BillingInterval } from "@gen/trading/billing/v1/plan_service_pb";

/** An amount in minor units (cents) as people read it: 1900n, "usd" -> "$19.00". */
export function formatMoney(amountMinor: bigint, currency: string, locale = "en-US"): string {
  const code = currency.toUpperCase();
  let digits = 2;
  try {
    digits = new Intl.NumberFormat(locale, { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return `${amountMinor} ${currency}`;
  }
  const value = Number(amountMinor) / 10 ** digits;
  return new Intl.NumberFormat(locale, { style: "currency", currency: code }).format(value);
}

export const INTERVAL_LABEL: Record<number, string> = {
  [BillingInterval.MONTHLY]: "month",
  [BillingInterval.YEARLY]: "year",
};

/** "per month" / "per year" ("" when unknown). */
export function perInterval(interval: BillingInterval): string {
  const label = INTERVAL_LABEL[interval];
  return label ? `per ${label}` : "";
}
