import { Link, useNavigate, useSearch } from "@tanstack/react-router";
import { authClient } from "../../api/authClient";
import { safeRedirect } from "../../routes/guards";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { AuthCard } from "../../ui/page";
import { useForm } from "../../ui/useForm";
import * as v from "../../lib/validation";
import { finishSignIn } from "./finishSignIn";
import { LazyOAuthButtons as OAuthButtons } from "./LazyOAuthButtons";

const REASONS: Record<string, { tone: "info" | "warning"; text: string }> = {
  expired: { tone: "warning", text: "Your session has ended. Sign in again to continue where you were." },
  revoked: { tone: "warning", text: "Your session was ended. Sign in again to continue." },
  logout: { tone: "info", text: "You have signed out." },
};

export function SignInPage() {
  const search = useSearch({ from: "/sign-in" });
  const navigate = useNavigate();
  const form = useForm(
    { email: "", password: "" },
    () => ({ email: v.email, password: v.required("Password") }),
    { fields: { email: ["email", "Email"], password: ["password", "Password"] } },
  );
  const reason = search.reason ? REASONS[search.reason] : undefined;

  const submit = form.onSubmit(async ({ email, password }) => {
    const res = await authClient.login({ email: email.trim(), password });
    if (finishSignIn(res.result) === "challenge") {
      await navigate({ to: "/sign-in/2fa", search: { redirect: search.redirect } });
    } else {
      await navigate({ href: safeRedirect(search.redirect), replace: true });
    }
  });

  return (
    <AuthCard title="Sign in">
      {reason && (
        <Alert tone={reason.tone} testId="sign-in-reason">
          {reason.text}
        </Alert>
      )}
      <form ref={form.formRef} onSubmit={submit} noValidate data-testid="sign-in-form">
        <FormError message={form.formError} />
        <TextField label="Email" type="email" autoComplete="username" required {...form.field("email")} />
        <TextField label="Password" type="password" autoComplete="current-password" required {...form.field("password")} />
        <div className="form-actions">
          <Button type="submit" busy={form.busy} disabled={form.lockedUntil !== null}>
            Sign in
          </Button>
          <Link to="/forgot-password">Forgot your password?</Link>
        </div>
      </form>
      <p>
        <Link to="/sign-in/phone" search={{ redirect: search.redirect }}>
          Sign in with a text message code
        </Link>
      </p>
      <OAuthButtons />
      <p className="muted">
        New here? <Link to="/register">Create an account</Link>
      </p>
    </AuthCard>
  );
}
