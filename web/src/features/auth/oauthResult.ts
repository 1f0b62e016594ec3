/**
 * What the gateway's OAuth callback puts in the URL fragment (gateway/oauth/result.py). The
 * refresh token is never in it for the web app: the gateway sets the httpOnly cookie instead.
 */
export type OAuthResult =
  | { kind: "tokens"; accessToken: string; expiresIn: number; sessionId: string }
  | { kind: "challenge"; challengeToken: string; expiresIn: number; methods: string[] }
  | { kind: "error"; message: string }
  | { kind: "none" };

export function parseOAuthFragment(hash: string): OAuthResult {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const num = (name: string) => {
    const n = Number(params.get(name));
    return Number.isFinite(n) && n > 0 ? n : 0;
  };
  if (params.get("error")) {
    const description = params.get("error_description") || params.get("message") || "";
    return { kind: "error", message: description || `The sign-in failed (${params.get("error")}).` };
  }
  const access = params.get("access_token");
  if (access) {
    return {
      kind: "tokens",
      accessToken: access,
      expiresIn: num("expires_in") || 900,
      sessionId: params.get("session_id") ?? "",
    };
  }
  const challenge = params.get("challenge_token");
  if (challenge) {
    return {
      kind: "challenge",
      challengeToken: challenge,
      expiresIn: num("expires_in") || 300,
      methods: (params.get("methods") ?? "").split(",").filter(Boolean),
    };
  }
  return { kind: "none" };
}
