/**
 * The 2FA challenge between the password (or SMS, or OAuth) step and the code step. Kept in
 * memory only: it is a credential for a minute or two, not something for the URL or storage.
 */
export interface PendingChallenge {
  token: string;
  /** Local clock, ms. */
  expiresAt: number;
  methods: string[];
}

let pending: PendingChallenge | null = null;

export function setPendingChallenge(c: { challengeToken: string; expiresIn: number; methods: string[] }): void {
  pending = { token: c.challengeToken, expiresAt: Date.now() + c.expiresIn * 1000, methods: c.methods };
}

export function pendingChallenge(now = Date.now()): PendingChallenge | null {
  if (pending && pending.expiresAt <= now) pending = null;
  return pending;
}

export function clearPendingChallenge(): void {
  pending = null;
}
