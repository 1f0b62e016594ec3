import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "@gen/trading/identity/v1/auth_service_pb";
import { apiBaseUrl } from "../config";
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

/** The header that asks the edge to keep the refresh token in its httpOnly cookie. */
export const REFRESH_COOKIE_HEADER = "x-refresh-cookie";

/** Asks the edge for cookie mode (envoy/refresh_cookie.lua): only a call carrying it gets or uses the cookie. */
export const refreshCookieInterceptor: Interceptor = (next) => async (req) => {
  req.header.set(REFRESH_COOKIE_HEADER, "1");
  return next(req);
};

/**
 * AuthService's transport: credentials included (the refresh cookie, scoped to AuthService's
 * paths) and cookie mode asked for, so sign-ins and Refresh answer the refresh token only as an
 * httpOnly cookie the page cannot read, and Refresh/Logout with an empty refresh_token use it.
 */
export const authTransport: Transport = createGrpcWebTransport({
  baseUrl: apiBaseUrl,
  fetch: withCredentials,
  interceptors: [refreshCookieInterceptor],
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS,
});
