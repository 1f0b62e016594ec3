import { describe, expect, it } from "vitest";
import { LiveQueue, streamStateLabel } from "./streamState";

describe("the live stream's state, in words", () => {
  it("says what the connection is doing", () => {
    expect(streamStateLabel({ kind: "off" })).toBe("Off");
    expect(streamStateLabel({ kind: "connecting", attempt: 0 })).toBe("Connecting…");
    expect(streamStateLabel({ kind: "connecting", attempt: 2 })).toBe("Connecting (attempt 3)…");
    expect(streamStateLabel({ kind: "live", messages: 0, missed: 0 })).toBe("Live, waiting for the next bar");
    expect(streamStateLabel({ kind: "live", messages: 4, missed: 0 })).toBe("Live · 4 bars received");
  });
  it("counts down to the next attempt", () => {
    const state = { kind: "reconnecting" as const, attempt: 1, retryAt: 10_500, reason: "The service is unavailable" };
    expect(streamStateLabel(state, 8_000)).toBe("Disconnected (The service is unavailable). Reconnecting in 3 s…");
    expect(streamStateLabel(state, 11_000)).toBe("Disconnected (The service is unavailable). Reconnecting in 0 s…");
  });
});

describe("LiveQueue", () => {
  it("drops a message queued behind a slow reload once the symbol changed", async () => {
    const q = new LiveQueue();
    q.setCurrent("EURUSD|1h");
    const ran: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const reloading = new Promise<void>((r) => (started = r));
    void q.enqueue("EURUSD|1h", async () => {
      ran.push("reload");
      started();
      await slow;
    });
    await reloading;
    const queued = q.enqueue("EURUSD|1h", () => void ran.push("eurusd bar"));
    q.setCurrent("GBPUSD|1h"); // the user picks another symbol while the reload is slow
    void q.enqueue("GBPUSD|1h", () => void ran.push("gbpusd bar"));
    release();
    await queued;
    await q.enqueue("GBPUSD|1h", () => undefined);
    expect(ran).toEqual(["reload", "gbpusd bar"]);
  });
  it("keeps order, and one failure does not stop the rest", async () => {
    const q = new LiveQueue();
    q.setCurrent("k");
    const ran: number[] = [];
    void q.enqueue("k", async () => {
      await new Promise((r) => setTimeout(r, 5));
      ran.push(1);
    });
    void q.enqueue("k", () => {
      throw new Error("x");
    });
    await q.enqueue("k", () => void ran.push(3));
    expect(ran).toEqual([1, 3]);
    expect(q.isCurrent("k")).toBe(true);
    expect(q.isCurrent("other")).toBe(false);
  });
});
