import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "@gen/trading/identity/v1/auth_service_pb";
import { apiBaseUrl, refreshMode } from "../config";
import { isMlService, mlStatus } from "../lib/mlStatus";

/** What the transport needs from the session (kept abstract: the session uses this transport). */
export interface TokenSource {
  accessToken(): Promise<string | null>;
  recover(failedToken: string): Promise<string | null>;
  expire(): void;
}

let tokens: TokenSource | null = null;

/** Called once at start-up, after the session exists. */
export function setTokenSource(source: TokenSource): void {
  tokens = source;
}

const PUBLIC_SERVICES = new Set<string>([AuthService.typeName, "trading.status.v1.StatusService"]);

/**
 * Adds `authorization: Bearer` from the session (unless the call set its own), and on
 * UNAUTHENTICATED renews the token once and repeats a unary call; when no token can be had the
 * session ends, and the app returns to sign-in.
 */
export const authInterceptor: Interceptor = (next) => async (req) => {
  if (PUBLIC_SERVICES.has(req.service.typeName) || req.header.has("authorization") || !tokens) {
    return next(req);
  }
  const token = await tokens.accessToken();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(req);
  } catch (err) {
    if (!token || ConnectError.from(err).code !== Code.Unauthenticated) throw err;
    const renewed = await tokens.recover(token);
    if (!renewed) {
      tokens.expire();
      throw err;
    }
    if (req.stream) throw err; // a stream is reopened by its owner with the new token
    req.header.set("authorization", `Bearer ${renewed}`);
    return await next(req);
  }
};

/** Tracks whether the ML engine answers, for the banner. */
export const mlStatusInterceptor: Interceptor = (next) => async (req) => {
  if (!isMlService(req.service.typeName)) return next(req);
  try {
    const res = await next(req);
    mlStatus.markUp();
    return res;
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unavailable) mlStatus.markDown();
    throw err;
  }
};

const DEFAULT_TIMEOUT_MS = 15_000;

/** The one gRPC-Web transport every generated client uses. */
export const transport: Transport = createGrpcWebTransport({
  baseUrl: apiBaseUrl,
  interceptors: [mlStatusInterceptor, authInterceptor],
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS,
});

const withCredentials: typeof fetch = (input, init) => fetch(input, { ...init, credentials: "include" });

/**
 * AuthService's transport. With the refresh cookie it sends credentials (the cookie) to the
 * edge; until then it is the same transport as everything else.
 */
export const authTransport: Transport =
  refreshMode === "cookie"
    ? createGrpcWebTransport({ baseUrl: apiBaseUrl, fetch: withCredentials, defaultTimeoutMs: DEFAULT_TIMEOUT_MS })
    : transport;
