/**
 * When to refresh an access token: a lead before it expires that grows with its lifetime
 * (a fifth of it, between 5 s and 60 s), so a 15-minute token is renewed a minute early and a
 * 30-second one 6 s early. `jitter` (0..1) spreads tabs that got the same token a little apart
 * (the cross-tab lock makes only one of them refresh anyway).
 */
export const MIN_LEAD_MS = 5_000;
export const MAX_LEAD_MS = 60_000;

export function refreshLeadMs(lifetimeMs: number): number {
  return Math.min(MAX_LEAD_MS, Math.max(MIN_LEAD_MS, lifetimeMs / 5));
}

export function refreshDelayMs(expiresAt: number, lifetimeMs: number, now: number, jitter = 0): number {
  const lead = refreshLeadMs(lifetimeMs);
  const spread = Math.min(Math.max(jitter, 0), 1) * lead * 0.25;
  return Math.max(0, Math.round(expiresAt - lead - spread - now));
}

/** A token is "fresh" while more than half of its lead is left: no refresh needed before a call. */
export function isFresh(expiresAt: number, lifetimeMs: number, now: number): boolean {
  return expiresAt - now > refreshLeadMs(lifetimeMs) / 2;
}

/** Retry delays after a refresh that failed for a passing reason (network, 503): 2 s, 4 s, … 30 s. */
export function retryBackoffMs(attempt: number): number {
  return Math.min(30_000, 2_000 * 2 ** Math.max(0, attempt));
}
