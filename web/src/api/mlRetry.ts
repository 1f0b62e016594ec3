/**
 * Retrying reads of the ML engine while it is unavailable (starting, restarting, loading its
 * models): the banner says "we retry automatically", and the page fills in once it answers.
 * Other errors are retried as the app's default does (twice), except a refused session.
 */
import { backoffDelay } from "../lib/marketFormat";
import { toApiError } from "./errors";

/** Tries while the engine is away: about a minute and a half with the delays below. */
export const ML_RETRIES = 10;

export function mlRetry(failureCount: number, error: Error): boolean {
  const kind = toApiError(error).kind;
  if (kind === "unavailable" || kind === "network" || kind === "timeout") return failureCount < ML_RETRIES;
  if (kind === "unauthenticated" || kind === "invalid" || kind === "forbidden" || kind === "not-found") return false;
  return failureCount < 2;
}

/** 1 s, 2 s, 4 s … capped at 15 s. */
export function mlRetryDelay(attempt: number): number {
  return backoffDelay(attempt, 1000, 15_000);
}

/** The two options together, for useQuery. */
export const mlQueryRetry = { retry: mlRetry, retryDelay: mlRetryDelay } as const;
