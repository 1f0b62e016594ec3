/**
 * An OAuth sign-in that this tab started. The gateway's callback puts its result in the URL
 * fragment, which anyone can also put in a link; the callback page takes the result only when
 * this tab pressed an OAuth button shortly before (a marker in sessionStorage: a random value
 * and the time, never a token), and only once. Nothing of the server changes.
 */
import type { OAuthResult } from "./oauthResult";

export const OAUTH_PENDING_KEY = "oauth-pending";
/** How long after pressing the button the provider's answer is still taken. */
export const OAUTH_PENDING_MAX_AGE_MS = 10 * 60_000;
/** What the page says for a result that no button of this tab asked for. */
export const NOT_STARTED_HERE = "This sign-in link was not started here, so nothing was changed.";

type Store = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function randomValue(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Called when an OAuth button is pressed, before the browser leaves for the gateway. */
export function markOAuthStarted(store: Store = sessionStorage, now: number = Date.now()): void {
  try {
    store.setItem(OAUTH_PENDING_KEY, JSON.stringify({ nonce: randomValue(), at: now }));
  } catch {
    // Storage refused (private mode quotas): the callback will say the sign-in was not started here.
  }
}

/** Whether this tab started an OAuth sign-in in the last ten minutes; the marker goes either way (single use). */
export function takeOAuthStarted(store: Store = sessionStorage, now: number = Date.now(), maxAgeMs = OAUTH_PENDING_MAX_AGE_MS): boolean {
  let raw: string | null = null;
  try {
    raw = store.getItem(OAUTH_PENDING_KEY);
    store.removeItem(OAUTH_PENDING_KEY);
  } catch {
    return false;
  }
  if (!raw) return false;
  try {
    const marker = JSON.parse(raw) as { nonce?: unknown; at?: unknown };
    if (typeof marker.nonce !== "string" || marker.nonce.length < 16 || typeof marker.at !== "number") return false;
    const age = now - marker.at;
    return age >= 0 && age <= maxAgeMs;
  } catch {
    return false;
  }
}

export type CallbackAction =
  | { kind: "sign-in"; result: Extract<OAuthResult, { kind: "tokens" }> }
  | { kind: "challenge"; result: Extract<OAuthResult, { kind: "challenge" }> }
  /** Someone is signed in already: the fragment does not replace the session. */
  | { kind: "keep-session" }
  | { kind: "error"; message: string }
  | { kind: "not-started" }
  | { kind: "none" };

/**
 * What the callback page does with a fragment's result: nothing of it unless this tab started
 * the sign-in (`started`), and never replace a session that is already signed in.
 */
export function decideCallback(result: OAuthResult, started: boolean, signedIn: boolean): CallbackAction {
  if (result.kind === "none") return { kind: "none" };
  if (!started) return { kind: "not-started" };
  if (result.kind === "error") return { kind: "error", message: result.message };
  if (signedIn) return { kind: "keep-session" };
  return result.kind === "tokens" ? { kind: "sign-in", result } : { kind: "challenge", result };
}
