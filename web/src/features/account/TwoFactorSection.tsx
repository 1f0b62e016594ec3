import type { EnrollTotpResponse } from "@gen/trading/identity/v1/user_service_pb";
import { useState } from "react";
import { toApiError } from "../../api/errors";
import { userClient } from "../../api/userClient";
import * as v from "../../lib/validation";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { Card } from "../../ui/page";
import { QrCode } from "../../ui/QrCode";
import { toast } from "../../ui/toast";
import { useForm } from "../../ui/useForm";
import { BackupCodes } from "./BackupCodes";
import { useSetMe } from "./me";

const CODE_FIELDS = {
  code: ["code", "Code"],
  totp_code: ["code", "Code"],
  backup_code: ["backupCode", "Backup code"],
} as const;

/** "JBSWY3DPEHPK3PXP" -> "JBSW Y3DP EHPK 3PXP", easier to type. */
export function groupSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

function Enrolment({ onFinished }: { onFinished: () => void }) {
  const [enrolment, setEnrolment] = useState<EnrollTotpResponse | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);
  const form = useForm({ code: "" }, () => ({ code: v.totpCode }), { fields: CODE_FIELDS });

  const start = async () => {
    setStarting(true);
    setStartError(null);
    try {
      setEnrolment(await userClient.enrollTotp({}));
    } catch (err) {
      setStartError(toApiError(err).message);
    } finally {
      setStarting(false);
    }
  };
  const confirm = form.onSubmit(async ({ code }) => {
    const res = await userClient.confirmTotp({ code: code.replace(/\s/g, "") });
    setCodes(res.backupCodes);
  });

  if (codes) return <BackupCodes codes={codes} onDone={onFinished} />;
  if (!enrolment) {
    return (
      <div>
        <p>Protect your account with a code from an authenticator app each time you sign in.</p>
        {startError && <Alert>{startError}</Alert>}
        <Button onClick={() => void start()} busy={starting} data-testid="totp-start">
          Set up two-factor authentication
        </Button>
      </div>
    );
  }
  return (
    <div className="enrol">
      <ol className="steps">
        <li>
          <p>Scan this QR code with your authenticator app (for example Google Authenticator, Aegis or 1Password).</p>
          <QrCode text={enrolment.otpauthUri} label="QR code to add this account to an authenticator app" />
          <p>
            Or type this key:{" "}
            <code className="secret" data-testid="totp-secret" data-secret={enrolment.secret}>
              {groupSecret(enrolment.secret)}
            </code>
          </p>
        </li>
        <li>
          <form ref={form.formRef} onSubmit={confirm} noValidate data-testid="totp-confirm-form">
            <FormError message={form.formError} />
            <TextField
              label="Code from the app"
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={7}
              required
              {...form.field("code")}
            />
            <div className="form-actions">
              <Button type="submit" busy={form.busy}>
                Turn on two-factor authentication
              </Button>
              <Button variant="secondary" onClick={() => setEnrolment(null)}>
                Cancel
              </Button>
            </div>
          </form>
        </li>
      </ol>
    </div>
  );
}

function DisableDialog({ open, onClose, onDisabled }: { open: boolean; onClose: () => void; onDisabled: () => void }) {
  const [useBackup, setUseBackup] = useState(false);
  const form = useForm(
    { code: "", backupCode: "" },
    () => (useBackup ? { backupCode: v.backupCode } : { code: v.totpCode }),
    { fields: CODE_FIELDS },
  );
  const submit = form.onSubmit(async ({ code, backupCode }) => {
    await userClient.disableTotp({
      factor: useBackup ? { case: "backupCode", value: backupCode.trim() } : { case: "totpCode", value: code.replace(/\s/g, "") },
    });
    form.reset();
    onDisabled();
  });
  return (
    <Dialog open={open} title="Turn off two-factor authentication" onClose={onClose} testId="totp-disable-dialog">
      <form ref={form.formRef} onSubmit={submit} noValidate>
        <p>Confirm with a fresh code. Your backup codes stop working too.</p>
        <FormError message={form.formError} />
        {useBackup ? (
          <TextField label="Backup code" autoComplete="off" required {...form.field("backupCode")} />
        ) : (
          <TextField label="Code from the app" inputMode="numeric" autoComplete="one-time-code" required {...form.field("code")} />
        )}
        <div className="dialog-actions">
          <Button variant="secondary" onClick={onClose}>
            Keep it on
          </Button>
          <Button variant="link" onClick={() => setUseBackup((b) => !b)}>
            {useBackup ? "Use the app instead" : "Use a backup code"}
          </Button>
          <Button type="submit" variant="danger" busy={form.busy}>
            Turn off
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function TwoFactorSection({ enabled }: { enabled: boolean }) {
  const setMe = useSetMe();
  const [disabling, setDisabling] = useState(false);
  return (
    <Card title="Two-factor authentication" id="two-factor">
      {enabled ? (
        <div>
          <p data-testid="totp-on">
            <span className="badge badge-ok">on</span> Signing in needs a code from your authenticator app (or a backup
            code).
          </p>
          <p className="muted">
            Lost your backup codes? Turn two-factor authentication off and on again to get new ones.
          </p>
          <Button variant="danger" onClick={() => setDisabling(true)}>
            Turn off
          </Button>
          <DisableDialog
            open={disabling}
            onClose={() => setDisabling(false)}
            onDisabled={() => {
              setDisabling(false);
              setMe(undefined);
              toast("Two-factor authentication is off.");
            }}
          />
        </div>
      ) : (
        <Enrolment
          onFinished={() => {
            setMe(undefined);
            toast("Two-factor authentication is on.");
          }}
        />
      )}
    </Card>
  );
}
