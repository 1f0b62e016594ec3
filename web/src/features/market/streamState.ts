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
