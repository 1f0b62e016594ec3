/** What a person sees of the live stream (pure, unit tested). */
import type { PlanNeeded } from "../../api/errors";

export type StreamState =
  | { kind: "off" }
  | { kind: "connecting"; attempt: number }
  | { kind: "live"; messages: number; missed: number }
  | { kind: "reconnecting"; attempt: number; retryAt: number; reason: string }
  // Refused for want of a plan: not reopened (the page offers the upgrade).
  | { kind: "needs-plan"; needed: PlanNeeded };

export function streamStateLabel(state: StreamState, now = Date.now()): string {
  switch (state.kind) {
    case "off":
      return "Off";
    case "connecting":
      return state.attempt > 0 ? `Connecting (attempt ${state.attempt + 1})…` : "Connecting…";
    case "live":
      return state.messages === 0 ? "Live, waiting for the next bar" : `Live · ${state.messages} bars received`;
    case "needs-plan":
      return `Off: the live stream needs plan ${state.needed.plan}`;
    case "reconnecting": {
      const s = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      return `Disconnected (${state.reason}). Reconnecting in ${s} s…`;
    }
  }
}

/**
 * The live messages, handled one after the other (a message may wait for a history reload),
 * each only while the page still shows what it was sent for: a message queued behind a slow
 * reload is dropped once the symbol or timeframe changed (the check is the first thing it does).
 */
export class LiveQueue {
  #tail: Promise<void> = Promise.resolve();
  #current = "";

  /** What the page shows now, e.g. "EURUSD|1h". */
  setCurrent(key: string): void {
    this.#current = key;
  }

  isCurrent(key: string): boolean {
    return key === this.#current;
  }

  /** Runs `job` after the ones before it, unless `key` is no longer current by then. */
  enqueue(key: string, job: () => Promise<void> | void): Promise<void> {
    this.#tail = this.#tail.then(async () => {
      if (!this.isCurrent(key)) return;
      try {
        await job();
      } catch {
        // One message's failure does not stop the ones after it.
      }
    });
    return this.#tail;
  }
}
