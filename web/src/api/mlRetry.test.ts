import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ML_RETRIES, mlRetry, mlRetryDelay } from "./mlRetry";

describe("retrying the ML engine's reads", () => {
  it("keeps trying while the engine is unavailable, then gives up", () => {
    const down = new ConnectError("no healthy upstream", Code.Unavailable);
    expect(mlRetry(0, down)).toBe(true);
    expect(mlRetry(ML_RETRIES - 1, down)).toBe(true);
    expect(mlRetry(ML_RETRIES, down)).toBe(false);
  });
  it("does not repeat what another try cannot fix", () => {
    expect(mlRetry(0, new ConnectError("bad", Code.InvalidArgument))).toBe(false);
    expect(mlRetry(0, new ConnectError("who", Code.Unauthenticated))).toBe(false);
    expect(mlRetry(1, new ConnectError("boom", Code.Internal))).toBe(true);
    expect(mlRetry(2, new ConnectError("boom", Code.Internal))).toBe(false);
  });
  it("waits longer each time, at most 15 s", () => {
    expect(mlRetryDelay(0)).toBeLessThanOrEqual(1000);
    expect(mlRetryDelay(20)).toBeLessThanOrEqual(15_000);
    expect(mlRetryDelay(20)).toBeGreaterThanOrEqual(12_000);
  });
});
