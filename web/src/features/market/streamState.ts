/** What a person sees of the live stream (pure, unit tested). */

export type StreamState =
  | { kind: "off" }
  | { kind: "connecting"; attempt: number }
  | { kind: "live"; messages: number; missed: number }
  | { kind: "reconnecting"; attempt: number; retryAt: number; reason: string };

export function streamStateLabel(state: StreamState, now = Date.now()): string {
  switch (state.kind) {
    case "off":
      return "Off";
    case "connecting":
      return state.attempt > 0 ? `Connecting (attempt ${state.attempt + 1})…` : "Connecting…";
    case "live":
      return state.messages === 0 ? "Live, waiting for the next bar" : `Live · ${state.messages} bars received`;
    case "reconnecting": {
      const s = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      return `Disconnected (${state.reason}). Reconnecting in ${s} s…`;
    }
  }
}
