import { BillingInterval } from "@gen/trading/billing/v1/plan_service_pb";

function minorDigits(currency: string, locale = "en-US"): number | null {
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return null;
  }
}

/** An amount in minor units (cents) as people read it: 1900n, "usd" -> "$19.00". */
export function formatMoney(amountMinor: bigint, currency: string, locale = "en-US"): string {
  const code = currency.toUpperCase();
  const digits = minorDigits(currency, locale);
  if (digits === null) return `${amountMinor} ${currency}`;
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

/** What a person typed ("7", "7.5", "7.50") in minor units of the currency (700n); null when it
 * is not an amount in that currency. */
export function parseMinor(text: string, currency: string): bigint | null {
  const digits = minorDigits(currency) ?? 2;
  const match = new RegExp(`^(\\d+)(?:\\.(\\d{1,${Math.max(digits, 1)}}))?$`).exec(text.trim());
  if (!match || (digits === 0 && match[2])) return null;
  const fraction = (match[2] ?? "").padEnd(digits, "0");
  return BigInt(match[1] ?? "0") * 10n ** BigInt(digits) + BigInt(fraction || "0");
}
