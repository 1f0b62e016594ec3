import { describe, expect, it } from "vitest";
import { clearToasts, clearToastsWhenSessionEnds, currentToasts, toast } from "./toast";

describe("toasts", () => {
  it("go when the session ends", () => {
    const listeners: Array<() => void> = [];
    const session = { onEnded: (l: () => void) => (listeners.push(l), () => undefined) };
    clearToastsWhenSessionEnds(session);
    toast("Alert: EURUSD turned BUY", "info");
    toast("Order placed");
    expect(currentToasts().map((t) => t.text)).toEqual(["Alert: EURUSD turned BUY", "Order placed"]);
    listeners.forEach((l) => l()); // logout, revoked or expired
    expect(currentToasts()).toEqual([]);
    clearToasts();
    expect(currentToasts()).toEqual([]);
  });
});
