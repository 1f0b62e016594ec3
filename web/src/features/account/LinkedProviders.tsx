import { KNOWN_OAUTH_PROVIDERS } from "../../config";
import { Card } from "../../ui/page";

const NAMES: Record<string, string> = { google: "Google", github: "GitHub", facebook: "Facebook" };

/**
 * The OAuth providers linked to the account. Linking happens when you sign in with a provider
 * that vouches for this same email; there is no unlink call in the API yet.
 */
export function LinkedProviders({ linked }: { linked: string[] }) {
  return (
    <Card title="Linked sign-in providers" id="providers">
      <ul className="provider-list" data-testid="linked-providers">
        {KNOWN_OAUTH_PROVIDERS.map((p) => (
          <li key={p}>
            <span>{NAMES[p]}</span>{" "}
            {linked.includes(p) ? <span className="badge badge-ok">linked</span> : <span className="badge">not linked</span>}
          </li>
        ))}
      </ul>
      <p className="muted">
        To link a provider, sign out and choose “Continue with …” on the sign-in page: an account with the same verified
        email is linked to it.
      </p>
    </Card>
  );
}
