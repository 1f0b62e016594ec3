import { resolveApiBaseUrl } from "./lib/format";

/** A `<meta name="...">` the gateway may write into index.html, or undefined. */
function meta(name: string): string | undefined {
  if (typeof document === "undefined") return undefined;
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content || undefined;
}

function location(): { protocol: string; hostname: string } {
  return typeof window === "undefined" ? { protocol: "http:", hostname: "127.0.0.1" } : window.location;
}

/** Envoy's base URL: build-time VITE_API_BASE_URL, then the gateway's meta tag, then this host on :8080. */
export const apiBaseUrl = resolveApiBaseUrl(import.meta.env.VITE_API_BASE_URL || meta("api-base-url"), location());

/** OAuth providers to offer: VITE_OAUTH_PROVIDERS or `<meta name="oauth-providers">`, comma-separated. */
export const KNOWN_OAUTH_PROVIDERS = ["google", "github", "facebook"] as const;
export type OAuthProvider = (typeof KNOWN_OAUTH_PROVIDERS)[number];

export function parseProviders(value: string | undefined): OAuthProvider[] {
  if (value === undefined) return [...KNOWN_OAUTH_PROVIDERS];
  const wanted = value
    .split(",")
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  return KNOWN_OAUTH_PROVIDERS.filter((p) => wanted.includes(p));
}

export const oauthProviders = parseProviders(import.meta.env.VITE_OAUTH_PROVIDERS ?? meta("oauth-providers"));

/** Dev-token endpoint (local runs only): the status page's ML stats for visitors not signed in. */
export const devTokenUrl = `${apiBaseUrl}/api/auth/dev-token`;
