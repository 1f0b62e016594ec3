import { useQuery } from "@tanstack/react-query";
import { apiBaseUrl, type OAuthProvider, oauthProviders } from "../../config";
import { markOAuthStarted } from "./oauthPending";
import { type EnabledProvider, PROVIDER_NAMES, parseEnabledProviders } from "./oauthProviders";

/** The start URL of an OAuth sign-in: the gateway redirects to the provider from there. */
export function oauthStartUrl(provider: OAuthProvider, startPath = `/api/auth/oauth/${provider}/start`): string {
  return `${apiBaseUrl}${startPath}`;
}

/**
 * The providers the gateway enables (public `GET /api/auth/oauth/providers`, not an RPC, so a
 * plain fetch), narrowed to those this build offers (VITE_OAUTH_PROVIDERS / meta). Nothing
 * while it loads or when the gateway does not answer: no button that cannot work.
 */
export function useEnabledProviders() {
  return useQuery({
    queryKey: ["oauth-providers"],
    staleTime: 5 * 60_000,
    retry: 1,
    queryFn: async (): Promise<EnabledProvider[]> => {
      const reply = await fetch(`${apiBaseUrl}/api/auth/oauth/providers`, { headers: { accept: "application/json" } });
      if (!reply.ok) throw new Error(`providers: HTTP ${reply.status}`);
      return parseEnabledProviders(await reply.json()).filter((p) => oauthProviders.includes(p.name));
    },
  });
}

/**
 * Plain links (a top-level navigation), so the gateway can set its binding cookie. Pressing one
 * marks this tab as having started a sign-in: the callback page takes only such a result.
 */
export function OAuthButtons() {
  const enabled = useEnabledProviders();
  const providers = enabled.data ?? [];
  if (providers.length === 0) return null;
  return (
    <div className="oauth" data-testid="oauth-buttons">
      <p className="divider">
        <span>or</span>
      </p>
      <ul className="oauth-list">
        {providers.map((p) => (
          <li key={p.name}>
            <a
              className={`btn btn-secondary oauth-${p.name}`}
              href={oauthStartUrl(p.name, p.startPath)}
              data-testid={`oauth-${p.name}`}
              onClick={() => markOAuthStarted()}
            >
              Continue with {PROVIDER_NAMES[p.name]}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

export default OAuthButtons;
