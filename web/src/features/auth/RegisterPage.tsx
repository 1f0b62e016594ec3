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
import { LazyOAuthButtons as OAuthButtons } from "./LazyOAuthButtons";

export function RegisterPage() {
  const [done, setDone] = useState<{ email: string; message: string } | null>(null);
  const form = useForm(
    { email: "", displayName: "", password: "", confirm: "" },
    (values) => ({
      email: v.email,
      displayName: v.maxLength("Display name", 80),
      password: v.newPassword("Password", values.email),
      confirm: v.matches(values.password),
    }),
    {
      fields: {
        email: ["email", "Email"],
        display_name: ["displayName", "Display name"],
        password: ["password", "Password"],
      },
    },
  );

  const submit = form.onSubmit(async ({ email, displayName, password }) => {
    const res = await authClient.register({ email: email.trim(), password, displayName: displayName.trim() });
    setDone({ email: email.trim(), message: res.message });
  });

  if (done) {
    return (
      <AuthCard title="Check your email">
        <Alert tone="success" testId="register-done">
          We sent a message to <strong>{done.email}</strong>. Open the link in it to verify your address, then sign in.
        </Alert>
        {done.message && <p className="muted">{done.message}</p>}
        <p>
          <Link to="/sign-in" search={{}}>
            Go to sign in
          </Link>
        </p>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Create an account">
      <form ref={form.formRef} onSubmit={submit} noValidate data-testid="register-form">
        <FormError message={form.formError} />
        <TextField label="Email" type="email" autoComplete="email" required {...form.field("email")} />
        <TextField label="Display name" autoComplete="nickname" maxLength={80} {...form.field("displayName")} />
        <TextField
          label="Password"
          type="password"
          autoComplete="new-password"
          hint="At least 12 characters. A passphrase of a few words works well."
          required
          {...form.field("password")}
        />
        <TextField label="Repeat the password" type="password" autoComplete="new-password" required {...form.field("confirm")} />
        <div className="form-actions">
          <Button type="submit" busy={form.busy}>
            Create account
          </Button>
        </div>
      </form>
      <OAuthButtons />
      <p className="muted">
        Already registered?{" "}
        <Link to="/sign-in" search={{}}>
          Sign in
        </Link>
      </p>
    </AuthCard>
  );
}
