import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { EngineService, type GetStatsResponse } from "@gen/trading/ml/v1/engine_service_pb";
import { StatusService, type GetHealthResponse } from "@gen/trading/status/v1/status_service_pb";
import { resolveApiBaseUrl } from "./format";

// Build-time setting first, then what the gateway wrote into the page, then the default.
const servedApiUrl = document.querySelector<HTMLMetaElement>('meta[name="api-base-url"]')?.content;
export const apiBaseUrl = resolveApiBaseUrl(
  import.meta.env.VITE_API_BASE_URL || servedApiUrl,
  window.location,
);

const transport = createGrpcWebTransport({ baseUrl: apiBaseUrl });
const statusClient = createClient(StatusService, transport);
const engineClient = createClient(EngineService, transport);

const CALL_TIMEOUT_MS = 5000;

/** StatusService.GetHealth: public, no token. */
export function getHealth(): Promise<GetHealthResponse> {
  return statusClient.getHealth({}, { timeoutMs: CALL_TIMEOUT_MS });
}

/** Thrown when no token can be had (the dev-token endpoint only exists on local dev runs). */
export class SignInRequiredError extends Error {
  constructor() {
    super("Sign in required to see ML engine stats");
    this.name = "SignInRequiredError";
  }
}

interface DevToken {
  access_token: string;
  token_type: string;
  expires_in: number;
}

let cached: { token: string; expiresAt: number } | undefined;

async function getToken(): Promise<string> {
  if (cached && Date.now() < cached.expiresAt) return cached.token;
  // No body and no Content-Type: a "simple" CORS request, so no preflight is needed.
  const res = await fetch(`${apiBaseUrl}/api/auth/dev-token`, { method: "POST" });
  if (res.status === 404 || res.status === 401 || res.status === 403) {
    throw new SignInRequiredError();
  }
  if (!res.ok) {
    throw new ConnectError(`dev-token request failed: HTTP ${res.status}`, Code.Unauthenticated);
  }
  const body = (await res.json()) as Partial<DevToken>;
  if (!body.access_token) {
    throw new ConnectError("dev-token response has no access_token", Code.Unauthenticated);
  }
  // Renew 30 s before the token expires.
  const ttlMs = Math.max(0, ((body.expires_in ?? 60) - 30) * 1000);
  cached = { token: body.access_token, expiresAt: Date.now() + ttlMs };
  return body.access_token;
}

/** EngineService.GetStats with a Bearer token from the dev-token endpoint. */
export async function getStats(): Promise<GetStatsResponse> {
  const token = await getToken();
  try {
    return await engineClient.getStats(
      {},
      { timeoutMs: CALL_TIMEOUT_MS, headers: { Authorization: `Bearer ${token}` } },
    );
  } catch (err) {
    // A rejected token is not worth keeping: the next refresh asks for a new one.
    if (ConnectError.from(err).code === Code.Unauthenticated) cached = undefined;
    throw err;
  }
}
