import { apiBaseUrl, type OAuthProvider, oauthProviders } from "../../config";

const NAMES: Record<OAuthProvider, string> = { google: "Google", github: "GitHub", facebook: "Facebook" };

/** The start URL of an OAuth sign-in: the gateway redirects to the provider from there. */
export function oauthStartUrl(provider: OAuthProvider): string {
  return `${apiBaseUrl}/api/auth/oauth/${provider}/start`;
}

/** Plain links (a top-level navigation), so the gateway can set its binding cookie. */
export function OAuthButtons() {
  if (oauthProviders.length === 0) return null;
  return (
    <div className="oauth">
      <p className="divider">
        <span>or</span>
      </p>
      <ul className="oauth-list">
        {oauthProviders.map((p) => (
          <li key={p}>
            <a className={`btn btn-secondary oauth-${p}`} href={oauthStartUrl(p)} data-testid={`oauth-${p}`}>
              Continue with {NAMES[p]}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}
