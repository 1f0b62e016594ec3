import { Code } from "@connectrpc/connect";
import type { OAuthProvider } from "../../config";
import { PROVIDER_NAMES } from "../auth/oauthProviders";
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

export { PROVIDER_NAMES };
