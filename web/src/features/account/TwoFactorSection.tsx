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
import { backupCodesLevel, backupCodesText } from "./accountLogic";
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

/** A dialog asking for a fresh second factor (a TOTP code or a backup code), then `action`. */
function FactorDialog({
  open,
  onClose,
  title,
  intro,
  submitLabel,
  danger,
  testId,
  action,
}: {
  open: boolean;
  onClose: () => void;
  title: string;
  intro: string;
  submitLabel: string;
  danger?: boolean;
  testId: string;
  action: (factor: { case: "totpCode"; value: string } | { case: "backupCode"; value: string }) => Promise<void>;
}) {
  const [useBackup, setUseBackup] = useState(false);
  const form = useForm(
    { code: "", backupCode: "" },
    () => (useBackup ? { backupCode: v.backupCode } : { code: v.totpCode }),
    { fields: CODE_FIELDS },
  );
  const submit = form.onSubmit(async ({ code, backupCode }) => {
    await action(
      useBackup ? { case: "backupCode", value: backupCode.trim() } : { case: "totpCode", value: code.replace(/\s/g, "") },
    );
    form.reset();
  });
  return (
    <Dialog open={open} title={title} onClose={onClose} testId={testId}>
      <form ref={form.formRef} onSubmit={submit} noValidate>
        <p>{intro}</p>
        <FormError message={form.formError} />
        {useBackup ? (
          <TextField label="Backup code" autoComplete="off" required {...form.field("backupCode")} />
        ) : (
          <TextField label="Code from the app" inputMode="numeric" autoComplete="one-time-code" required {...form.field("code")} />
        )}
        <div className="dialog-actions">
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button variant="link" onClick={() => setUseBackup((b) => !b)}>
            {useBackup ? "Use the app instead" : "Use a backup code"}
          </Button>
          <Button type="submit" variant={danger ? "danger" : undefined} busy={form.busy} data-testid={`${testId}-submit`}>
            {submitLabel}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

/** The remaining backup codes (User.backup_codes_remaining), a warning when few are left, and new ones. */
function BackupCodesStatus({ remaining, onNewCodes }: { remaining: number; onNewCodes: (codes: string[]) => void }) {
  const [open, setOpen] = useState(false);
  const level = backupCodesLevel(remaining);
  return (
    <div className="stack" data-testid="backup-codes-status">
      {level === "ok" ? (
        <p data-testid="backup-codes-remaining" data-remaining={remaining}>
          {backupCodesText(remaining)}.
        </p>
      ) : (
        <Alert tone="warning" testId="backup-codes-low">
          <span data-testid="backup-codes-remaining" data-remaining={remaining}>
            {backupCodesText(remaining)}.
          </span>{" "}
          Get new ones so you can still sign in if you lose your authenticator app.
        </Alert>
      )}
      <div>
        <Button variant="secondary" onClick={() => setOpen(true)} data-testid="backup-codes-regenerate">
          Get new backup codes
        </Button>
      </div>
      <FactorDialog
        open={open}
        onClose={() => setOpen(false)}
        title="Get new backup codes"
        intro="Confirm with a fresh code. Your old backup codes stop working."
        submitLabel="Get new codes"
        testId="backup-codes-dialog"
        action={async (factor) => {
          const res = await userClient.regenerateBackupCodes({ factor });
          setOpen(false);
          onNewCodes(res.backupCodes);
        }}
      />
    </div>
  );
}

export function TwoFactorSection({ enabled, backupCodesRemaining }: { enabled: boolean; backupCodesRemaining: number }) {
  const setMe = useSetMe();
  const [disabling, setDisabling] = useState(false);
  const [newCodes, setNewCodes] = useState<string[] | null>(null);
  return (
    <Card title="Two-factor authentication" id="two-factor">
      {enabled ? (
        <div>
          <p data-testid="totp-on">
            <span className="badge badge-ok">on</span> Signing in needs a code from your authenticator app (or a backup
            code).
          </p>
          {newCodes ? (
            <BackupCodes
              codes={newCodes}
              onDone={() => {
                setNewCodes(null);
                setMe(undefined);
              }}
            />
          ) : (
            <BackupCodesStatus
              remaining={backupCodesRemaining}
              onNewCodes={(codes) => {
                setNewCodes(codes);
                setMe(undefined);
                toast("New backup codes: the old ones no longer work.");
              }}
            />
          )}
          <div className="form-actions">
            <Button variant="danger" onClick={() => setDisabling(true)}>
              Turn off
            </Button>
          </div>
          <FactorDialog
            open={disabling}
            onClose={() => setDisabling(false)}
            title="Turn off two-factor authentication"
            intro="Confirm with a fresh code. Your backup codes stop working too."
            submitLabel="Turn off"
            danger
            testId="totp-disable-dialog"
            action={async (factor) => {
              await userClient.disableTotp({ factor });
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
