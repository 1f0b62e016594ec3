import { describe, expect, it } from "vitest";
import { streamStateLabel } from "./streamState";

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
