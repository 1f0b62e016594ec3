import { Link, useNavigate, useSearch } from "@tanstack/react-router";
import { useState } from "react";
import { authClient } from "../../api/authClient";
import * as v from "../../lib/validation";
import { safeRedirect } from "../../routes/guards";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { AuthCard } from "../../ui/page";
import { useForm } from "../../ui/useForm";
import { finishSignIn } from "./finishSignIn";

export function PhoneSignInPage() {
  const search = useSearch({ from: "/sign-in/phone" });
  const navigate = useNavigate();
  const [sentTo, setSentTo] = useState<{ phone: string; minutes: number } | null>(null);
  const fields = { phone_number: ["phone", "Phone number"], code: ["code", "Code"] } as const;
  const start = useForm({ phone: "" }, () => ({ phone: v.phone }), { fields });
  const verify = useForm({ code: "" }, () => ({ code: v.smsCode }), { fields });

  const sendCode = start.onSubmit(async ({ phone }) => {
    const number = v.cleanPhone(phone);
    const res = await authClient.startPhoneLogin({ phoneNumber: number });
    setSentTo({ phone: number, minutes: Math.max(1, Math.round(res.expiresIn / 60)) });
  });

  const checkCode = verify.onSubmit(async ({ code }) => {
    if (!sentTo) return;
    const res = await authClient.verifyPhoneLogin({ phoneNumber: sentTo.phone, code: code.replace(/\s/g, "") });
    if (finishSignIn(res.result) === "challenge") {
      await navigate({ to: "/sign-in/2fa", search: { redirect: search.redirect } });
    } else {
      await navigate({ href: safeRedirect(search.redirect), replace: true });
    }
  });

  return (
    <AuthCard title="Sign in with a text message" lead="We text a sign-in code to the phone number of your account.">
      {!sentTo ? (
        <form ref={start.formRef} onSubmit={sendCode} noValidate data-testid="phone-start-form">
          <FormError message={start.formError} />
          <TextField
            label="Phone number"
            type="tel"
            autoComplete="tel"
            hint="In international form, for example +34 600 111 222."
            required
            {...start.field("phone")}
          />
          <div className="form-actions">
            <Button type="submit" busy={start.busy} disabled={start.lockedUntil !== null}>
              Text me a code
            </Button>
          </div>
        </form>
      ) : (
        <form ref={verify.formRef} onSubmit={checkCode} noValidate data-testid="phone-verify-form">
          <Alert tone="info">
            If an account has the number {sentTo.phone}, a code is on its way. It works for {sentTo.minutes} minutes.
          </Alert>
          <FormError message={verify.formError} />
          <TextField label="Code" inputMode="numeric" autoComplete="one-time-code" required {...verify.field("code")} />
          <div className="form-actions">
            <Button type="submit" busy={verify.busy} disabled={verify.lockedUntil !== null}>
              Sign in
            </Button>
            <Button variant="link" onClick={() => setSentTo(null)}>
              Use another number
            </Button>
          </div>
        </form>
      )}
      <p>
        <Link to="/sign-in" search={{ redirect: search.redirect }}>
          Sign in with email and password
        </Link>
      </p>
    </AuthCard>
  );
}
