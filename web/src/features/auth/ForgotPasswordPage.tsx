import { Link } from "@tanstack/react-router";
import { useState } from "react";
import { authClient } from "../../api/authClient";
import * as v from "../../lib/validation";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { AuthCard } from "../../ui/page";
import { useForm } from "../../ui/useForm";

export function ForgotPasswordPage() {
  const [sent, setSent] = useState<string | null>(null);
  const form = useForm({ email: "" }, () => ({ email: v.email }), { fields: { email: ["email", "Email"] } });
  const submit = form.onSubmit(async ({ email }) => {
    await authClient.forgotPassword({ email: email.trim() });
    setSent(email.trim());
  });
  return (
    <AuthCard title="Reset your password" lead="We email you a link to choose a new password.">
      {sent ? (
        <Alert tone="success" testId="forgot-done">
          If an account uses {sent}, a reset link is on its way. It works for 30 minutes.
        </Alert>
      ) : (
        <form ref={form.formRef} onSubmit={submit} noValidate data-testid="forgot-form">
          <FormError message={form.formError} />
          <TextField label="Email" type="email" autoComplete="email" required {...form.field("email")} />
          <div className="form-actions">
            <Button type="submit" busy={form.busy} disabled={form.lockedUntil !== null}>
              Send the link
            </Button>
          </div>
        </form>
      )}
      <p>
        <Link to="/sign-in" search={{}}>
          Back to sign in
        </Link>
      </p>
    </AuthCard>
  );
}
