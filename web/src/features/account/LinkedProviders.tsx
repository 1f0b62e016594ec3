import { useState } from "react";
import { toApiError } from "../../api/errors";
import { userClient } from "../../api/userClient";
import { KNOWN_OAUTH_PROVIDERS, type OAuthProvider } from "../../config";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { Card } from "../../ui/page";
import { toast } from "../../ui/toast";
import { PROVIDER_NAMES, unlinkErrorMessage } from "./accountLogic";
import { useSetMe } from "./me";

/**
 * The OAuth providers linked to the account, each with Unlink (UserService.UnlinkOAuthProvider).
 * Linking happens when you sign in with a provider that vouches for this same email. The API
 * refuses to unlink the account's last way to sign in (FAILED_PRECONDITION), said plainly here.
 */
export function LinkedProviders({ linked }: { linked: string[] }) {
  const setMe = useSetMe();
  const [asking, setAsking] = useState<OAuthProvider | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const unlink = async (provider: OAuthProvider) => {
    setBusy(true);
    setError(null);
    try {
      const res = await userClient.unlinkOAuthProvider({ provider });
      setMe(res.user);
      toast(`${PROVIDER_NAMES[provider]} is no longer linked.`);
    } catch (err) {
      setError(unlinkErrorMessage(provider, toApiError(err)));
    } finally {
      setBusy(false);
      setAsking(null);
    }
  };

  return (
    <Card title="Linked sign-in providers" id="providers">
      {error && <Alert testId="unlink-error">{error}</Alert>}
      <ul className="provider-list" data-testid="linked-providers">
        {KNOWN_OAUTH_PROVIDERS.map((p) => (
          <li key={p} data-testid={`provider-${p}`}>
            <span>{PROVIDER_NAMES[p]}</span>{" "}
            {linked.includes(p) ? (
              <>
                <span className="badge badge-ok">linked</span>{" "}
                <Button variant="link" onClick={() => setAsking(p)} data-testid={`unlink-${p}`}>
                  Unlink<span className="visually-hidden"> {PROVIDER_NAMES[p]}</span>
                </Button>
              </>
            ) : (
              <span className="badge">not linked</span>
            )}
          </li>
        ))}
      </ul>
      <p className="muted">
        To link a provider, sign out and choose “Continue with …” on the sign-in page: an account with the same verified
        email is linked to it.
      </p>
      <Dialog
        open={asking !== null}
        title={asking ? `Unlink ${PROVIDER_NAMES[asking]}?` : "Unlink"}
        onClose={() => setAsking(null)}
        testId="unlink-dialog"
      >
        <p>You will no longer be able to sign in with {asking ? PROVIDER_NAMES[asking] : "it"}.</p>
        <div className="dialog-actions">
          <Button variant="secondary" onClick={() => setAsking(null)}>
            Keep it
          </Button>
          <Button variant="danger" busy={busy} onClick={() => asking && void unlink(asking)} data-testid="unlink-confirm">
            Unlink
          </Button>
        </div>
      </Dialog>
    </Card>
  );
}
