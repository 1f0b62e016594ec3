import { KNOWN_OAUTH_PROVIDERS, type OAuthProvider } from "../../config";

export const PROVIDER_NAMES: Record<OAuthProvider, string> = { google: "Google", github: "GitHub", facebook: "Facebook" };

export interface EnabledProvider {
  name: OAuthProvider;
  /** The gateway's start path, e.g. "/api/auth/oauth/google/start". */
  startPath: string;
}

/**
 * The gateway's `GET /api/auth/oauth/providers` answer -> the providers to offer, in the
 * order the gateway gives, known names only, start paths that stay on the gateway's
 * `/api/auth/oauth/` routes (anything else is dropped, never followed).
 */
export function parseEnabledProviders(body: unknown): EnabledProvider[] {
  if (typeof body !== "object" || body === null) return [];
  const list = (body as { providers?: unknown }).providers;
  if (!Array.isArray(list)) return [];
  const out: EnabledProvider[] = [];
  for (const item of list) {
    if (typeof item !== "object" || item === null) continue;
    const { name, startPath } = item as { name?: unknown; startPath?: unknown };
    if (typeof name !== "string" || !(KNOWN_OAUTH_PROVIDERS as readonly string[]).includes(name)) continue;
    const path = typeof startPath === "string" && /^\/api\/auth\/oauth\/[a-z]+\/start$/.test(startPath)
      ? startPath
      : `/api/auth/oauth/${name}/start`;
    if (out.some((p) => p.name === name)) continue;
    out.push({ name: name as OAuthProvider, startPath: path });
  }
  return out;
}
