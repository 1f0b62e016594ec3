import { Link, useNavigate, useSearch } from "@tanstack/react-router";
import { useState } from "react";
import { authClient } from "../../api/authClient";
import * as v from "../../lib/validation";
import { safeRedirect } from "../../routes/guards";
import { grantOf, session } from "../../session/instance";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { AuthCard } from "../../ui/page";
import { useForm } from "../../ui/useForm";
import { clearPendingChallenge, pendingChallenge } from "./challenge";

export function TwoFactorPage() {
  const search = useSearch({ from: "/sign-in/2fa" });
  const navigate = useNavigate();
  const [useBackup, setUseBackup] = useState(false);
  const [challenge] = useState(() => pendingChallenge());
  const form = useForm(
    { code: "", backupCode: "" },
    () => (useBackup ? { backupCode: v.backupCode } : { code: v.totpCode }),
    { fields: { totp_code: ["code", "Code"], backup_code: ["backupCode", "Backup code"] } },
  );

  if (!challenge) {
    return (
      <AuthCard title="Two-step sign-in">
        <Alert tone="warning">This sign-in step has expired or was already used. Please sign in again.</Alert>
        <p>
          <Link to="/sign-in" search={{ redirect: search.redirect }}>
            Back to sign in
          </Link>
        </p>
      </AuthCard>
    );
  }

  const submit = form.onSubmit(async ({ code, backupCode }) => {
    const res = await authClient.verifySecondFactor({
      challengeToken: challenge.token,
      factor: useBackup
        ? { case: "backupCode", value: backupCode.trim() }
        : { case: "totpCode", value: code.replace(/\s/g, "") },
    });
    clearPendingChallenge();
    session.signIn(grantOf(res.tokens));
    await navigate({ href: safeRedirect(search.redirect), replace: true });
  });

  const backupAllowed = challenge.methods.length === 0 || challenge.methods.includes("backup_code");
  return (
    <AuthCard
      title="Two-step sign-in"
      lead={
        useBackup
          ? "Enter one of the backup codes you saved when you turned on two-factor authentication. Each works once."
          : "Enter the 6-digit code from your authenticator app."
      }
    >
      <form ref={form.formRef} onSubmit={submit} noValidate data-testid="two-factor-form">
        <FormError message={form.formError} />
        {useBackup ? (
          <TextField label="Backup code" autoComplete="off" spellCheck={false} required {...form.field("backupCode")} />
        ) : (
          <TextField
            label="Code"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={7}
            required
            {...form.field("code")}
          />
        )}
        <div className="form-actions">
          <Button type="submit" busy={form.busy} disabled={form.lockedUntil !== null}>
            Verify
          </Button>
          {backupAllowed && (
            <Button
              variant="link"
              onClick={() => {
                setUseBackup((b) => !b);
                form.reset();
              }}
              data-testid="toggle-backup"
            >
              {useBackup ? "Use the authenticator app instead" : "Use a backup code instead"}
            </Button>
          )}
        </div>
      </form>
      <p>
        <Link to="/sign-in" search={{ redirect: search.redirect }}>
          Start over
        </Link>
      </p>
    </AuthCard>
  );
}
