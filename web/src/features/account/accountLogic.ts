import { Code } from "@connectrpc/connect";
import { KNOWN_OAUTH_PROVIDERS, type OAuthProvider } from "../../config";
import type { ApiError } from "../../api/errors";

/** Below this many unused backup codes the security page suggests new ones. */
export const BACKUP_CODES_LOW = 3;

export type BackupCodesLevel = "none" | "low" | "ok";

/** How worried the page should be about the remaining backup codes (2FA on only). */
export function backupCodesLevel(remaining: number): BackupCodesLevel {
  if (remaining <= 0) return "none";
  if (remaining <= BACKUP_CODES_LOW) return "low";
  return "ok";
}

/** "3 backup codes left", "1 backup code left", "No backup codes left". */
export function backupCodesText(remaining: number): string {
  if (remaining <= 0) return "No backup codes left";
  return `${remaining} backup code${remaining === 1 ? "" : "s"} left`;
}

export const PROVIDER_NAMES: Record<OAuthProvider, string> = { google: "Google", github: "GitHub", facebook: "Facebook" };

/** What the page says when UnlinkOAuthProvider is refused. */
export function unlinkErrorMessage(provider: string, err: ApiError): string {
  const name = PROVIDER_NAMES[provider as OAuthProvider] ?? provider;
  if (err.code === Code.FailedPrecondition) {
    return (
      `${name} is your only way to sign in, so it cannot be unlinked. ` +
      "Set a password or verify a phone number first, or link another provider."
    );
  }
  if (err.code === Code.NotFound) return `${name} is not linked to your account any more.`;
  return err.message;
}

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
