import { userClient } from "../../api/userClient";
import * as v from "../../lib/validation";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { Card } from "../../ui/page";
import { toast } from "../../ui/toast";
import { useForm } from "../../ui/useForm";

export function PasswordSection({ email }: { email: string }) {
  const form = useForm(
    { currentPassword: "", newPassword: "", confirm: "" },
    (values) => ({
      currentPassword: v.required("Current password"),
      newPassword: v.newPassword("New password", email),
      confirm: v.matches(values.newPassword),
    }),
    {
      fields: {
        current_password: ["currentPassword", "Current password"],
        new_password: ["newPassword", "New password"],
      },
      unauthenticated: "The current password is not right.",
    },
  );
  const submit = form.onSubmit(async ({ currentPassword, newPassword }) => {
    await userClient.changePassword({ currentPassword, newPassword });
    form.reset();
    toast("Password changed. Your other sessions were signed out.");
  });
  return (
    <Card title="Password" id="password">
      <form ref={form.formRef} onSubmit={submit} noValidate data-testid="password-form">
        <FormError message={form.formError} />
        <TextField label="Current password" type="password" autoComplete="current-password" required {...form.field("currentPassword")} />
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          hint="At least 12 characters. Changing it signs out your other sessions."
          required
          {...form.field("newPassword")}
        />
        <TextField label="Repeat the new password" type="password" autoComplete="new-password" required {...form.field("confirm")} />
        <div className="form-actions">
          <Button type="submit" busy={form.busy} disabled={form.lockedUntil !== null}>
            Change password
          </Button>
        </div>
      </form>
    </Card>
  );
}
