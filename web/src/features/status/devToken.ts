import { devTokenUrl } from "../../config";

/**
 * The gateway's dev-token endpoint (local runs with DEV_TOKENS_ENABLED only; there is no
 * generated client because it is not an RPC). The status page uses it so that a visitor who is
 * not signed in still sees the ML engine's stats on a local run.
 */
export class SignInRequiredError extends Error {
  constructor() {
    super("Sign in to see the ML engine's stats.");
    this.name = "SignInRequiredError";
  }
}

let cached: { token: string; expiresAt: number } | undefined;

export async function devToken(): Promise<string> {
  if (cached && Date.now() < cached.expiresAt) return cached.token;
  // No body and no Content-Type: a "simple" CORS request, no preflight.
  let res: Response;
  try {
    res = await fetch(devTokenUrl, { method: "POST" });
  } catch {
    throw new SignInRequiredError();
  }
  if (!res.ok) throw new SignInRequiredError();
  const body = (await res.json()) as { access_token?: string; expires_in?: number };
  if (!body.access_token) throw new SignInRequiredError();
  cached = { token: body.access_token, expiresAt: Date.now() + Math.max(0, (body.expires_in ?? 60) - 30) * 1000 };
  return body.access_token;
}

export function forgetDevToken(): void {
  cached = undefined;
}
