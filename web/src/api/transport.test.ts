import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it, vi } from "vitest";
import { isMlService, mlStatus } from "../lib/mlStatus";
import { authInterceptor, mlStatusInterceptor, setTokenSource, type TokenSource } from "./transport";

type Req = Parameters<Parameters<typeof authInterceptor>[0]>[0];

function req(typeName: string, stream = false): Req {
  return { service: { typeName }, header: new Headers(), stream } as unknown as Req;
}

function source(tokens: { current: string | null; renewed: string | null }) {
  const s = {
    accessToken: vi.fn(async () => tokens.current),
    recover: vi.fn(async () => tokens.renewed),
    expire: vi.fn(),
  } satisfies TokenSource;
  setTokenSource(s);
  return s;
}

describe("authInterceptor", () => {
  it("adds the bearer token to calls that need one, not to AuthService", async () => {
    source({ current: "t1", renewed: null });
    const seen: (string | null)[] = [];
    const next = vi.fn(async (r: Req) => {
      seen.push(r.header.get("authorization"));
      return {} as never;
    });
    await authInterceptor(next)(req("trading.identity.v1.UserService"));
    await authInterceptor(next)(req("trading.identity.v1.AuthService"));
    expect(seen).toEqual(["Bearer t1", null]);
  });

  it("renews once on UNAUTHENTICATED and repeats the call", async () => {
    const s = source({ current: "old", renewed: "new" });
    const seen: (string | null)[] = [];
    const next = vi.fn(async (r: Req) => {
      seen.push(r.header.get("authorization"));
      if (seen.length === 1) throw new ConnectError("token expired", Code.Unauthenticated);
      return {} as never;
    });
    await authInterceptor(next)(req("trading.identity.v1.UserService"));
    expect(seen).toEqual(["Bearer old", "Bearer new"]);
    expect(s.recover).toHaveBeenCalledWith("old");
    expect(s.expire).not.toHaveBeenCalled();
  });

  it("ends the session when nothing can renew it", async () => {
    const s = source({ current: "old", renewed: null });
    const next = vi.fn(async () => {
      throw new ConnectError("session revoked", Code.Unauthenticated);
    });
    await expect(authInterceptor(next)(req("trading.identity.v1.UserService"))).rejects.toThrow("session revoked");
    expect(s.expire).toHaveBeenCalledOnce();
    expect(next).toHaveBeenCalledOnce();
  });

  it("leaves other errors alone", async () => {
    const s = source({ current: "t", renewed: "u" });
    const next = vi.fn(async () => {
      throw new ConnectError("nope", Code.PermissionDenied);
    });
    await expect(authInterceptor(next)(req("trading.identity.v1.UserAdminService"))).rejects.toThrow("nope");
    expect(s.recover).not.toHaveBeenCalled();
  });
});

describe("mlStatusInterceptor", () => {
  it("marks the ML engine down on UNAVAILABLE and up on the next answer", async () => {
    expect(isMlService("trading.market.v1.MarketDataService")).toBe(true);
    expect(isMlService("trading.identity.v1.UserService")).toBe(false);
    const failing = vi.fn(async () => {
      throw new ConnectError("no healthy upstream", Code.Unavailable);
    });
    await expect(mlStatusInterceptor(failing)(req("trading.ml.v1.PredictionService"))).rejects.toThrow();
    expect(mlStatus.get().down).toBe(true);
    // A business call failing does not clear or set it.
    await expect(mlStatusInterceptor(failing)(req("trading.identity.v1.UserService"))).rejects.toThrow();
    expect(mlStatus.get().down).toBe(true);
    await mlStatusInterceptor(vi.fn(async () => ({}) as never))(req("trading.ml.v1.EngineService"));
    expect(mlStatus.get().down).toBe(false);
  });
});
