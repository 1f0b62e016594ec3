/**
 * Whether the ML engine answers: set by every call to its services (trading.ml.*,
 * trading.market.*) and by the platform health, read by the banner. The rest of the app
 * keeps working while it is down.
 */
export interface MlStatus {
  down: boolean;
  /** When it was last seen down (ms), for "since". */
  since: number | null;
}

let state: MlStatus = { down: false, since: null };
const listeners = new Set<() => void>();

export const mlStatus = {
  get: (): MlStatus => state,
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  markDown(now = Date.now()): void {
    if (state.down) return;
    state = { down: true, since: now };
    listeners.forEach((l) => l());
  },
  markUp(): void {
    if (!state.down) return;
    state = { down: false, since: null };
    listeners.forEach((l) => l());
  },
};

/** The proto packages the ML engine serves (Envoy routes them there). */
export function isMlService(typeName: string): boolean {
  return typeName.startsWith("trading.ml.") || typeName.startsWith("trading.market.");
}
