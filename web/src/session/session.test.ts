import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ChannelLike, tabLock } from "./crossTab";
import { type AuthApi, Session, type SessionMessage, type TokenGrant } from "./session";

function b64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

let serial = 0;
function jwt(claims: Partial<{ sub: string; roles: string[]; sid: string }> = {}): string {
  serial += 1;
  const payload = { sub: "u1", roles: ["user"], plan: "free", sid: "s1", iat: 0, exp: 0, jti: serial, ...claims };
  return `${b64url({ alg: "EdDSA" })}.${b64url(payload)}.sig`;
}

function grant(expiresIn = 900): TokenGrant {
  return { accessToken: jwt(), expiresIn, sessionId: "s1" };
}

/**
 * An in-memory BroadcastChannel: delivers to every other member, asynchronously, in order; with
 * `delayMs`, that much later (a browser orders nothing between the channel and the lock's grant).
 */
function bus(delayMs = 0) {
  const members = new Set<(m: SessionMessage) => void>();
  return (): ChannelLike<SessionMessage> => {
    let mine: ((m: SessionMessage) => void) | null = null;
    return {
      post(message) {
        const copy = structuredClone(message);
        for (const member of members) {
          if (member === mine) continue;
          if (delayMs > 0) setTimeout(() => member(copy), delayMs);
          else void Promise.resolve().then(() => member(copy));
        }
      },
      listen(handler) {
        mine = handler;
        members.add(handler);
        return () => members.delete(handler);
      },
      close() {},
    };
  };
}

/**
 * AuthService behind the edge, as a browser sees it: the refresh token lives in the browser's
 * one cookie jar (shared by every tab, never handed to the page); Refresh sends the jar's token,
 * which the server spends and replaces (a spent one is refused, like the server does); Logout
 * ends it and expires the cookie.
 */
function fakeApi(delayMs = 50) {
  const valid = new Set<string>();
  let issued = 0;
  const api = {
    cookie: "",
    refreshCalls: [] as string[],
    logoutCalls: [] as string[],
    fail: null as ConnectError | null,
    /** A sign-in: new tokens, the cookie set. */
    issue(expiresIn = 900): TokenGrant {
      api.cookie = `r${++issued}`;
      valid.add(api.cookie);
      return grant(expiresIn);
    },
    async refresh(): Promise<TokenGrant> {
      const sent = api.cookie;
      api.refreshCalls.push(sent);
      await new Promise((r) => setTimeout(r, delayMs));
      if (api.fail) throw api.fail;
      if (!valid.delete(sent)) throw new ConnectError("refresh token is not valid", Code.Unauthenticated);
      return api.issue();
    },
    async logout(): Promise<void> {
      api.logoutCalls.push(api.cookie);
      valid.delete(api.cookie);
      api.cookie = "";
    },
  } satisfies AuthApi & Record<string, unknown>;
  return api;
}

function tab(api: AuthApi, channel: () => ChannelLike<SessionMessage>, lock = sharedLock) {
  return new Session({ api, lock, channel: channel(), random: () => 0, helloWaitMs: 100 });
}

let sharedLock = tabLock();

beforeEach(() => {
  vi.useFakeTimers();
  sharedLock = tabLock(); // one lock for every "tab" of a test, as navigator.locks is per origin
});
afterEach(() => {
  vi.useRealTimers();
});

describe("session", () => {
  it("refreshes a minute before a 15-minute token expires", async () => {
    const api = fakeApi();
    const a = tab(api, bus());
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(200)]);
    api.refreshCalls.length = 0; // it opened signed out: no cookie yet
    a.signIn(api.issue(900));
    await vi.advanceTimersByTimeAsync(839_000);
    expect(api.refreshCalls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(api.refreshCalls).toHaveLength(1);
    expect(a.getSnapshot().status).toBe("signed-in");
  });

  it("hands the session to a new tab", async () => {
    const api = fakeApi();
    const channel = bus();
    const a = tab(api, channel);
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(200)]);
    api.refreshCalls.length = 0; // it opened signed out: no cookie yet
    a.signIn(api.issue());
    const b = tab(api, channel);
    await Promise.all([b.start(), vi.advanceTimersByTimeAsync(200)]);
    expect(b.getSnapshot().status).toBe("signed-in");
    expect(await b.accessToken()).toBe(await a.accessToken());
  });

  it("a new tab with nobody to ask and no cookie is signed out, with no 'expired' notice", async () => {
    const api = fakeApi();
    const a = tab(api, bus());
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(300)]);
    expect(api.refreshCalls).toEqual([""]);
    expect(a.getSnapshot()).toEqual({ status: "signed-out", user: null, ended: null });
  });

  // With a channel delay, the winner's tokens reach the other tabs after the lock does (a browser
  // orders nothing between the two): a tab that waited must not refresh the same session again.
  it.each([0, 20])("refreshes once when three tabs want to at the same moment (channel delay %i ms)", async (delayMs) => {
    const api = fakeApi();
    const channel = bus(delayMs);
    const tabs = [tab(api, channel), tab(api, channel), tab(api, channel)];
    for (const t of tabs) await Promise.all([t.start(), vi.advanceTimersByTimeAsync(200)]);
    api.refreshCalls.length = 0; // they opened signed out: no cookie yet
    tabs[0]!.signIn(api.issue());
    await vi.advanceTimersByTimeAsync(10 + 2 * delayMs);
    const results = Promise.all(tabs.map((t) => t.refresh()));
    await vi.advanceTimersByTimeAsync(1_000);
    const after = await results;
    expect(api.refreshCalls).toHaveLength(1);
    const tokens = new Set(after.map((s) => s?.accessToken));
    expect(tokens.size).toBe(1);
    for (const t of tabs) expect(t.getSnapshot().status).toBe("signed-in");
  });

  it("the scheduled refreshes of many tabs hit the server once", async () => {
    const api = fakeApi();
    const channel = bus();
    const tabs = [tab(api, channel), tab(api, channel)];
    for (const t of tabs) await Promise.all([t.start(), vi.advanceTimersByTimeAsync(200)]);
    api.refreshCalls.length = 0; // they opened signed out: no cookie yet
    tabs[0]!.signIn(api.issue(900));
    await vi.advanceTimersByTimeAsync(10);
    await vi.advanceTimersByTimeAsync(845_000);
    expect(api.refreshCalls).toHaveLength(1);
    expect(await tabs[0]!.accessToken()).toBe(await tabs[1]!.accessToken());
  });

  it("a refused refresh ends the session in every tab", async () => {
    const api = fakeApi();
    const channel = bus();
    const a = tab(api, channel);
    const b = tab(api, channel);
    for (const t of [a, b]) await Promise.all([t.start(), vi.advanceTimersByTimeAsync(200)]);
    const ended: string[] = [];
    b.onEnded((reason) => ended.push(reason));
    a.signIn(api.issue());
    await vi.advanceTimersByTimeAsync(10);
    api.fail = new ConnectError("session revoked", Code.Unauthenticated);
    const refreshed = a.refresh();
    await vi.advanceTimersByTimeAsync(200);
    expect(await refreshed).toBeNull();
    expect(a.getSnapshot()).toMatchObject({ status: "signed-out", ended: "expired" });
    expect(b.getSnapshot()).toMatchObject({ status: "signed-out", ended: "expired" });
    expect(ended).toEqual(["expired"]);
  });

  it("keeps the session through a passing failure and retries with backoff", async () => {
    const api = fakeApi();
    const a = tab(api, bus());
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(200)]);
    api.refreshCalls.length = 0; // it opened signed out: no cookie yet
    a.signIn(api.issue());
    api.fail = new ConnectError("upstream connect error", Code.Unavailable);
    const refreshed = a.refresh();
    const settled = refreshed.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await settled).toBeInstanceOf(ConnectError);
    expect(a.getSnapshot().status).toBe("signed-in");
    api.fail = null;
    await vi.advanceTimersByTimeAsync(2_100);
    expect(api.refreshCalls).toHaveLength(2);
    expect(a.getSnapshot().status).toBe("signed-in");
  });

  it("recover() uses a newer token without a refresh, or refreshes once", async () => {
    const api = fakeApi();
    const a = tab(api, bus());
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(200)]);
    api.refreshCalls.length = 0; // it opened signed out: no cookie yet
    a.signIn(api.issue());
    const current = (await a.accessToken())!;
    expect(await a.recover("an-older-token")).toBe(current);
    expect(api.refreshCalls).toHaveLength(0);
    const recovered = a.recover(current);
    await vi.advanceTimersByTimeAsync(100);
    const renewed = await recovered;
    expect(renewed).not.toBeNull();
    expect(renewed).not.toBe(current);
    expect(api.refreshCalls).toHaveLength(1);
  });

  it("logout tells the server and ends every tab", async () => {
    const api = fakeApi();
    const channel = bus();
    const a = tab(api, channel);
    const b = tab(api, channel);
    for (const t of [a, b]) await Promise.all([t.start(), vi.advanceTimersByTimeAsync(200)]);
    a.signIn(api.issue());
    await vi.advanceTimersByTimeAsync(10);
    expect(b.getSnapshot().status).toBe("signed-in");
    const cookie = api.cookie;
    await a.logout();
    await vi.advanceTimersByTimeAsync(10);
    expect(api.logoutCalls).toEqual([cookie]);
    expect(api.cookie).toBe("");
    expect(a.getSnapshot()).toMatchObject({ status: "signed-out", ended: "logout" });
    expect(b.getSnapshot()).toMatchObject({ status: "signed-out", ended: "logout" });
  });

  it("reads roles from the access token", async () => {
    const api = fakeApi();
    const a = tab(api, bus());
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(200)]);
    api.refreshCalls.length = 0; // it opened signed out: no cookie yet
    a.signIn({ ...api.issue(), accessToken: jwt({ roles: ["admin"], sub: "u9" }) });
    expect(a.getSnapshot().user).toMatchObject({ id: "u9", roles: ["admin"] });
    expect(a.hasRole("admin")).toBe(true);
    expect(a.hasRole("user")).toBe(false);
  });
});

describe("session with the refresh cookie", () => {
  it("a reload (a new tab, no other open) continues the session from the cookie", async () => {
    const api = fakeApi();
    const before = tab(api, bus());
    await Promise.all([before.start(), vi.advanceTimersByTimeAsync(300)]);
    api.refreshCalls.length = 0;
    before.signIn(api.issue());
    before.stop();
    const reloaded = tab(api, bus()); // a fresh page: nobody to ask, only the cookie
    await Promise.all([reloaded.start(), vi.advanceTimersByTimeAsync(300)]);
    expect(reloaded.getSnapshot().status).toBe("signed-in");
    expect(api.refreshCalls).toEqual(["r1"]);
    expect(api.cookie).toBe("r2");
  });

  it("an open tab hands its session to a new one without a refresh", async () => {
    const api = fakeApi();
    const channel = bus();
    const a = tab(api, channel);
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(300)]);
    const calls = api.refreshCalls.length;
    a.signIn(api.issue());
    const b = tab(api, channel);
    await Promise.all([b.start(), vi.advanceTimersByTimeAsync(300)]);
    expect(b.getSnapshot().status).toBe("signed-in");
    expect(api.refreshCalls).toHaveLength(calls);
  });
});
