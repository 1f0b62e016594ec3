import { Role } from "@gen/trading/identity/v1/identity_pb";
import { useEffect } from "react";
import { toApiError } from "../../api/errors";
import { userClient } from "../../api/userClient";
import { formatDateTime } from "../../lib/format";
import * as v from "../../lib/validation";
import { timestampDate } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { Card, usePageTitle } from "../../ui/page";
import { toast } from "../../ui/toast";
import { useForm } from "../../ui/useForm";
import { useMe, useSetMe } from "./me";

export function ProfilePage() {
  usePageTitle("Profile");
  const me = useMe();
  const setMe = useSetMe();
  const form = useForm({ displayName: "" }, () => ({ displayName: v.maxLength("Display name", 80) }), {
    fields: { display_name: ["displayName", "Display name"] },
  });
  const { reset } = form;
  const loadedName = me.data?.displayName;
  useEffect(() => {
    if (loadedName !== undefined) reset({ displayName: loadedName });
  }, [loadedName]);

  if (me.isPending) return <Loading />;
  if (me.isError) return <Alert>{toApiError(me.error).message}</Alert>;
  const user = me.data;

  const save = form.onSubmit(async ({ displayName }) => {
    const res = await userClient.updateMe({ displayName: displayName.trim() });
    setMe(res.user);
    toast("Profile saved.");
  });

  const resend = async () => {
    try {
      const res = await userClient.resendEmailVerification({});
      toast(res.sent ? `We sent a new link to ${user.email}.` : "Your email is already verified.", "info");
    } catch (err) {
      toast(toApiError(err).message, "error");
    }
  };

  return (
    <div className="stack">
      <Card title="Profile" id="profile">
        <dl className="facts">
          <div>
            <dt>Email</dt>
            <dd data-testid="profile-email">
              {user.email}{" "}
              {user.emailVerified ? (
                <span className="badge badge-ok">verified</span>
              ) : (
                <span className="badge badge-warn" data-testid="email-unverified">
                  not verified
                </span>
              )}
            </dd>
          </div>
          <div>
            <dt>Role</dt>
            <dd data-testid="profile-role">{user.role === Role.ADMIN ? "admin" : "user"}</dd>
          </div>
          <div>
            <dt>Plan</dt>
            <dd>{user.plan || "free"}</dd>
          </div>
          <div>
            <dt>Member since</dt>
            <dd>{formatDateTime(timestampDate(user.createdAt))}</dd>
          </div>
          <div>
            <dt>Last sign-in</dt>
            <dd>{formatDateTime(timestampDate(user.lastLoginAt))}</dd>
          </div>
        </dl>
        {!user.emailVerified && (
          <p>
            <Button variant="secondary" onClick={() => void resend()}>
              Send a new verification link
            </Button>
          </p>
        )}
      </Card>
      <Card title="Display name" id="display-name">
        <form ref={form.formRef} onSubmit={save} noValidate>
          <FormError message={form.formError} />
          <TextField label="Display name" autoComplete="nickname" maxLength={80} {...form.field("displayName")} />
          <div className="form-actions">
            <Button type="submit" busy={form.busy}>
              Save
            </Button>
          </div>
        </form>
      </Card>
    </div>
  );
}
