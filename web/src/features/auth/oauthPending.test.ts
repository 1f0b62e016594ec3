import { describe, expect, it } from "vitest";
import { decideCallback, markOAuthStarted, OAUTH_PENDING_KEY, takeOAuthStarted } from "./oauthPending";
import { parseOAuthFragment } from "./oauthResult";

function memoryStore() {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

const T0 = 1_700_000_000_000;
const tokens = parseOAuthFragment("#access_token=x&expires_in=900");
const error = parseOAuthFragment("#error=access_denied&error_description=Call%20%2B1%20555%20now");

describe("the OAuth sign-in marker", () => {
  it("is a random value and the time, never a token; taken once", () => {
    const store = memoryStore();
    markOAuthStarted(store, T0);
    const marker = JSON.parse(store.data.get(OAUTH_PENDING_KEY)!);
    expect(Object.keys(marker).sort()).toEqual(["at", "nonce"]);
    expect(marker.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(takeOAuthStarted(store, T0 + 60_000)).toBe(true);
    expect(store.data.has(OAUTH_PENDING_KEY)).toBe(false);
    expect(takeOAuthStarted(store, T0 + 61_000)).toBe(false);
  });
  it("expires after ten minutes, and a missing or forged one does not count", () => {
    const store = memoryStore();
    markOAuthStarted(store, T0);
    expect(takeOAuthStarted(store, T0 + 10 * 60_000 + 1)).toBe(false);
    expect(store.data.has(OAUTH_PENDING_KEY)).toBe(false);
    expect(takeOAuthStarted(memoryStore(), T0)).toBe(false);
    const forged = memoryStore();
    forged.setItem(OAUTH_PENDING_KEY, "yes");
    expect(takeOAuthStarted(forged, T0)).toBe(false);
    forged.setItem(OAUTH_PENDING_KEY, JSON.stringify({ nonce: "0123456789abcdef0123", at: T0 + 5_000 }));
    expect(takeOAuthStarted(forged, T0)).toBe(false); // from the future
  });
});

describe("decideCallback", () => {
  it("a crafted link (no sign-in started here) signs nobody in and shows none of its text", () => {
    expect(decideCallback(tokens, false, false)).toEqual({ kind: "not-started" });
    expect(decideCallback(tokens, false, true)).toEqual({ kind: "not-started" });
    expect(decideCallback(error, false, false)).toEqual({ kind: "not-started" });
  });
  it("a sign-in started here completes, or shows the provider's reason", () => {
    expect(decideCallback(tokens, true, false)).toMatchObject({ kind: "sign-in", result: { accessToken: "x" } });
    expect(decideCallback(error, true, false)).toEqual({ kind: "error", message: "Call +1 555 now" });
    const challenge = parseOAuthFragment("#challenge_token=c&methods=totp");
    expect(decideCallback(challenge, true, false)).toMatchObject({ kind: "challenge" });
  });
  it("never replaces a session that is signed in", () => {
    expect(decideCallback(tokens, true, true)).toEqual({ kind: "keep-session" });
    expect(decideCallback(parseOAuthFragment("#challenge_token=c"), true, true)).toEqual({ kind: "keep-session" });
  });
  it("no fragment: nothing to take", () => {
    expect(decideCallback(parseOAuthFragment(""), false, false)).toEqual({ kind: "none" });
  });
});
