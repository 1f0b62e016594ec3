import type { User } from "@gen/trading/identity/v1/identity_pb";
import { useState } from "react";
import { toApiError } from "../../api/errors";
import { userClient } from "../../api/userClient";
import * as v from "../../lib/validation";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { Card } from "../../ui/page";
import { toast } from "../../ui/toast";
import { useForm } from "../../ui/useForm";
import { useSetMe } from "./me";
import { phoneVerification } from "./phoneVerification";

const FIELDS = { phone_number: ["phone", "Phone number"], code: ["code", "Code"] } as const;

export function PhoneSection({ user }: { user: User }) {
  const setMe = useSetMe();
  const [codeSent, setCodeSent] = useState<number | null>(null);
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<string | null>(null);
  const numberForm = useForm({ phone: user.phoneNumber }, () => ({ phone: v.phone }), { fields: FIELDS });
  const codeForm = useForm({ code: "" }, () => ({ code: v.smsCode }), { fields: FIELDS });

  const saveNumber = numberForm.onSubmit(async ({ phone }) => {
    const res = await userClient.updateMe({ phoneNumber: v.cleanPhone(phone) });
    setMe(res.user);
    setCodeSent(null);
    toast("Phone number saved. Verify it with a code.");
  });
  const removeNumber = async () => {
    const res = await userClient.updateMe({ phoneNumber: "" });
    setMe(res.user);
    numberForm.reset({ phone: "" });
    toast("Phone number removed.");
  };
  const sendCode = async () => {
    setSending(true);
    setSendError(null);
    try {
      setCodeSent(await phoneVerification.start(user.phoneNumber));
    } catch (err) {
      setSendError(toApiError(err).message);
    } finally {
      setSending(false);
    }
  };
  const confirm = codeForm.onSubmit(async ({ code }) => {
    await phoneVerification.confirm(user.phoneNumber, code.replace(/\s/g, ""));
    setCodeSent(null);
    codeForm.reset();
    setMe(undefined);
    toast("Phone number verified.");
  });

  return (
    <Card title="Phone number" id="phone">
      <p>A verified number lets you sign in with a texted code.</p>
      {user.phoneNumber && (
        <p data-testid="phone-state">
          {user.phoneNumber}{" "}
          {user.phoneVerified ? <span className="badge badge-ok">verified</span> : <span className="badge badge-warn">not verified</span>}
        </p>
      )}
      <form ref={numberForm.formRef} onSubmit={saveNumber} noValidate>
        <FormError message={numberForm.formError} />
        <TextField
          label="Phone number"
          type="tel"
          autoComplete="tel"
          hint="In international form, for example +34 600 111 222."
          required
          {...numberForm.field("phone")}
        />
        <div className="form-actions">
          <Button type="submit" busy={numberForm.busy}>
            Save number
          </Button>
          {user.phoneNumber && (
            <Button variant="secondary" onClick={() => void removeNumber()}>
              Remove number
            </Button>
          )}
        </div>
      </form>
      {user.phoneNumber && !user.phoneVerified && (
        <div className="stack">
          {sendError && <Alert>{sendError}</Alert>}
          {codeSent === null ? (
            <Button variant="secondary" onClick={() => void sendCode()} busy={sending}>
              Text me a code
            </Button>
          ) : (
            <form ref={codeForm.formRef} onSubmit={confirm} noValidate>
              <Alert tone="info">We texted a code to {user.phoneNumber}. It works for {codeSent} minutes.</Alert>
              <FormError message={codeForm.formError} />
              <TextField label="Code" inputMode="numeric" autoComplete="one-time-code" required {...codeForm.field("code")} />
              <div className="form-actions">
                <Button type="submit" busy={codeForm.busy} disabled={codeForm.lockedUntil !== null}>
                  Verify number
                </Button>
              </div>
            </form>
          )}
        </div>
      )}
    </Card>
  );
}
