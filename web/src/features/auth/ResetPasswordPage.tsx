import { Link, useSearch } from "@tanstack/react-router";
import { useState } from "react";
import { authClient } from "../../api/authClient";
import * as v from "../../lib/validation";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { AuthCard } from "../../ui/page";
import { useForm } from "../../ui/useForm";

/** The page the reset mail links to: /reset-password?token=... */
export function ResetPasswordPage() {
  const { token } = useSearch({ from: "/reset-password" });
  const [done, setDone] = useState(false);
  const form = useForm(
    { newPassword: "", confirm: "" },
    (values) => ({ newPassword: v.newPassword("New password"), confirm: v.matches(values.newPassword) }),
    {
      fields: { new_password: ["newPassword", "New password"] },
      unauthenticated: "This link is invalid, already used or expired. Ask for a new one.",
    },
  );
  const submit = form.onSubmit(async ({ newPassword }) => {
    await authClient.resetPassword({ token: token ?? "", newPassword });
    setDone(true);
  });

  if (!token) {
    return (
      <AuthCard title="Choose a new password">
        <Alert>This link has no token. Open the link from the email again, or ask for a new one.</Alert>
        <p>
          <Link to="/forgot-password">Ask for a new link</Link>
        </p>
      </AuthCard>
    );
  }
  if (done) {
    return (
      <AuthCard title="Password changed">
        <Alert tone="success" testId="reset-done">
          Your password is changed and every session was signed out.
        </Alert>
        <p>
          <Link to="/sign-in" search={{}}>
            Sign in with the new password
          </Link>
        </p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Choose a new password">
      <form ref={form.formRef} onSubmit={submit} noValidate data-testid="reset-form">
        <FormError message={form.formError} />
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          hint="At least 12 characters."
          required
          {...form.field("newPassword")}
        />
        <TextField label="Repeat the new password" type="password" autoComplete="new-password" required {...form.field("confirm")} />
        <div className="form-actions">
          <Button type="submit" busy={form.busy}>
            Change password
          </Button>
        </div>
      </form>
      {form.lastError?.kind === "unauthenticated" && (
        <p>
          <Link to="/forgot-password">Ask for a new link</Link>
        </p>
      )}
    </AuthCard>
  );
}
