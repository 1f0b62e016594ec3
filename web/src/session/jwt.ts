/** The claims of our access tokens that the page uses. The page never verifies a token: the
 * edge and every service do. It only reads who is signed in, to choose what to show. */
export interface AccessClaims {
  sub: string;
  roles: string[];
  plan: string;
  sid: string;
  exp: number;
  iat: number;
}

function base64UrlDecode(segment: string): string {
  const b64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The payload of a JWT, or null when it is not one. */
export function decodeClaims(token: string): AccessClaims | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const raw = JSON.parse(base64UrlDecode(parts[1])) as Record<string, unknown>;
    if (typeof raw.sub !== "string") return null;
    return {
      sub: raw.sub,
      roles: Array.isArray(raw.roles) ? raw.roles.filter((r): r is string => typeof r === "string") : [],
      plan: typeof raw.plan === "string" ? raw.plan : "",
      sid: typeof raw.sid === "string" ? raw.sid : "",
      exp: typeof raw.exp === "number" ? raw.exp : 0,
      iat: typeof raw.iat === "number" ? raw.iat : 0,
    };
  } catch {
    return null;
  }
}
