import { toApiError } from "../../api/errors";
import { Alert, Loading } from "../../ui/Alert";
import { usePageTitle } from "../../ui/page";
import { LinkedProviders } from "./LinkedProviders";
import { useMe } from "./me";
import { PasswordSection } from "./PasswordSection";
import { PhoneSection } from "./PhoneSection";
import { TwoFactorSection } from "./TwoFactorSection";

export function SecurityPage() {
  usePageTitle("Security");
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isError) return <Alert>{toApiError(me.error).message}</Alert>;
  const user = me.data;
  return (
    <div className="stack">
      <TwoFactorSection enabled={user.totpEnabled} backupCodesRemaining={user.backupCodesRemaining} />
      <PasswordSection email={user.email} />
      <PhoneSection key={user.phoneNumber} user={user} />
      <LinkedProviders linked={user.linkedProviders} />
    </div>
  );
}
