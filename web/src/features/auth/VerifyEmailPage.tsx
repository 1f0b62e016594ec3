import { Link, useSearch } from "@tanstack/react-router";
import { useState } from "react";
import { authClient } from "../../api/authClient";
import * as v from "../../lib/validation";
import { useSession } from "../../session/instance";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { AuthCard } from "../../ui/page";
import { useForm } from "../../ui/useForm";

const INVALID_LINK = "This link is invalid, already used or expired.";

/** The page the verification mail links to: /verify-email?token=...
 *
 * The link proves the address; the account's password proves that whoever opened it is who
 * registered the account. Someone who did not sign up, but got this mail because someone else
 * used their address, does not know that password: they take the account over with a reset. */
export function VerifyEmailPage() {
  const { token } = useSearch({ from: "/verify-email" });
  const signedIn = useSession().status === "signed-in";
  const [done, setDone] = useState(false);
  const form = useForm(
    { password: "" },
    () => ({ password: v.required("Password") }),
    { fields: { password: ["password", "Password"] }, unauthenticated: INVALID_LINK },
  );
  const submit = form.onSubmit(async ({ password }) => {
    await authClient.verifyEmail({ token: token ?? "", password });
    setDone(true);
  });
  const next = signedIn ? (
    <Link to="/account">Go to your account</Link>
  ) : (
    <Link to="/sign-in" search={{}}>
      Sign in
    </Link>
  );

  if (!token || done) {
    return (
      <AuthCard title="Verify your email">
        {!token && <Alert>This link has no token. Open the link from the email again, or copy all of it.</Alert>}
        {done && (
          <Alert tone="success" testId="verify-done">
            Your email address is verified.
          </Alert>
        )}
        <p>{next}</p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Verify your email">
      <p>Enter the password you chose when you created the account to confirm this address.</p>
      <form ref={form.formRef} onSubmit={submit} noValidate data-testid="verify-form">
        <FormError message={form.formError} />
        <TextField label="Password" type="password" autoComplete="current-password" required {...form.field("password")} />
        <div className="form-actions">
          <Button type="submit" busy={form.busy}>
            Confirm address
          </Button>
        </div>
      </form>
      <p className="muted">
        Did not create an account? Someone may have used your address.{" "}
        <Link to="/forgot-password">Reset the password</Link> to take the account over: everything they set up
        is removed.
      </p>
      {form.lastError?.kind === "unauthenticated" || form.formError ? <p>{next}</p> : null}
      {form.formError && signedIn && <p className="muted">You can ask for a new link on your account page.</p>}
    </AuthCard>
  );
}
