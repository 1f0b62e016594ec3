import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ChannelLike, tabLock } from "./crossTab";
import { CookieRefreshStore, MemoryRefreshStore } from "./refreshStore";
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

function grant(expiresIn = 900, refreshToken = `r${serial + 1}`): TokenGrant {
  return { accessToken: jwt(), expiresIn, refreshToken, sessionId: "s1" };
}

/** An in-memory BroadcastChannel: delivers to every other member, asynchronously, in order. */
function bus() {
  const members = new Set<(m: SessionMessage) => void>();
  return (): ChannelLike<SessionMessage> => {
    let mine: ((m: SessionMessage) => void) | null = null;
    return {
      post(message) {
        const copy = structuredClone(message);
        for (const member of members) {
          if (member !== mine) void Promise.resolve().then(() => member(copy));
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

/** An AuthService stand-in: rotates refresh tokens, refuses spent ones like the server. */
function fakeApi(delayMs = 50) {
  const valid = new Set<string>();
  const api = {
    refreshCalls: [] as string[],
    logoutCalls: [] as string[],
    fail: null as ConnectError | null,
    issue(expiresIn = 900): TokenGrant {
      const g = grant(expiresIn);
      valid.add(g.refreshToken);
      return g;
    },
    async refresh(token: string): Promise<TokenGrant> {
      api.refreshCalls.push(token);
      await new Promise((r) => setTimeout(r, delayMs));
      if (api.fail) throw api.fail;
      if (!valid.delete(token)) throw new ConnectError("refresh token is not valid", Code.Unauthenticated);
      return api.issue();
    },
    async logout(token: string): Promise<void> {
      api.logoutCalls.push(token);
      valid.delete(token);
    },
  } satisfies AuthApi & Record<string, unknown>;
  return api;
}

function tab(api: AuthApi, channel: () => ChannelLike<SessionMessage>, lock = sharedLock, store = new MemoryRefreshStore()) {
  return new Session({ api, store, lock, channel: channel(), random: () => 0, helloWaitMs: 100, settleMs: 20 });
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
    a.signIn(api.issue());
    const b = tab(api, channel);
    await Promise.all([b.start(), vi.advanceTimersByTimeAsync(200)]);
    expect(b.getSnapshot().status).toBe("signed-in");
    expect(await b.accessToken()).toBe(await a.accessToken());
  });

  it("a new tab with nobody to ask is signed out", async () => {
    const a = tab(fakeApi(), bus());
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(200)]);
    expect(a.getSnapshot()).toEqual({ status: "signed-out", user: null, ended: null });
  });

  it("refreshes once when three tabs want to at the same moment", async () => {
    const api = fakeApi();
    const channel = bus();
    const tabs = [tab(api, channel), tab(api, channel), tab(api, channel)];
    for (const t of tabs) await Promise.all([t.start(), vi.advanceTimersByTimeAsync(200)]);
    tabs[0]!.signIn(api.issue());
    await vi.advanceTimersByTimeAsync(10);
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
    const g = api.issue();
    a.signIn(g);
    await vi.advanceTimersByTimeAsync(10);
    expect(b.getSnapshot().status).toBe("signed-in");
    await a.logout();
    await vi.advanceTimersByTimeAsync(10);
    expect(api.logoutCalls).toEqual([g.refreshToken]);
    expect(a.getSnapshot()).toMatchObject({ status: "signed-out", ended: "logout" });
    expect(b.getSnapshot()).toMatchObject({ status: "signed-out", ended: "logout" });
  });

  it("reads roles from the access token", async () => {
    const api = fakeApi();
    const a = tab(api, bus());
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(200)]);
    a.signIn({ ...api.issue(), accessToken: jwt({ roles: ["admin"], sub: "u9" }) });
    expect(a.getSnapshot().user).toMatchObject({ id: "u9", roles: ["admin"] });
    expect(a.hasRole("admin")).toBe(true);
    expect(a.hasRole("user")).toBe(false);
  });
});

describe("session with the refresh cookie", () => {
  it("restores from the cookie with an empty refresh token", async () => {
    const api = fakeApi();
    const calls: string[] = [];
    const cookieApi: AuthApi = {
      async refresh(token) {
        calls.push(token);
        return grant();
      },
      logout: async () => {},
    };
    const a = tab(cookieApi, bus(), sharedLock, new CookieRefreshStore() as never);
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(300)]);
    expect(calls).toEqual([""]);
    expect(a.getSnapshot().status).toBe("signed-in");
    void api;
  });

  it("without a cookie the tab is signed out, with no 'expired' notice", async () => {
    const cookieApi: AuthApi = {
      refresh: async () => {
        throw new ConnectError("no refresh token", Code.Unauthenticated);
      },
      logout: async () => {},
    };
    const a = tab(cookieApi, bus(), sharedLock, new CookieRefreshStore() as never);
    await Promise.all([a.start(), vi.advanceTimersByTimeAsync(300)]);
    expect(a.getSnapshot()).toEqual({ status: "signed-out", user: null, ended: null });
  });
});
