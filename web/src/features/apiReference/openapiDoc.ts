/** The gateway's generated OpenAPI document (public, `GET /api/docs/openapi.json`). */
export const OPENAPI_PATH = "/api/docs/openapi.json";

type Doc = Record<string, unknown>;

/** The document with its one server set to Envoy's origin, so "Try it out" calls go there. */
export function withServer(doc: Doc, apiBaseUrl: string): Doc {
  return { ...doc, servers: [{ url: apiBaseUrl, description: "this platform (Envoy)" }] };
}

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
}

/**
 * A "Try it out" request with the signed-in user's access token, only when it goes to our API
 * (a request elsewhere never carries it) and it does not name its own Authorization already.
 */
export function authorize<R extends OutgoingRequest>(req: R, token: string | null, apiBaseUrl: string): R {
  if (!token) return req;
  let target: URL;
  try {
    target = new URL(req.url, apiBaseUrl);
  } catch {
    return req;
  }
  if (target.origin !== new URL(apiBaseUrl).origin) return req;
  const has = Object.keys(req.headers).some((h) => h.toLowerCase() === "authorization" && req.headers[h]);
  if (has) return req;
  req.headers = { ...req.headers, Authorization: `Bearer ${token}` };
  return req;
}
