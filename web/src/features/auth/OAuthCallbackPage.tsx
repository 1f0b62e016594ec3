import { Link, useNavigate } from "@tanstack/react-router";
import { useEffect, useState } from "react";
import { HOME } from "../../routes/guards";
import { session } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { AuthCard } from "../../ui/page";
import { setPendingChallenge } from "./challenge";
import { parseOAuthFragment } from "./oauthResult";

/**
 * Where the gateway sends the browser after an OAuth sign-in, the result in the fragment
 * (OAUTH_SUCCESS_REDIRECT=<web app>/oauth/callback). The fragment is read once and removed
 * from the address bar and history at once.
 */
export function OAuthCallbackPage() {
  const navigate = useNavigate();
  const [result] = useState(() => {
    const parsed = parseOAuthFragment(window.location.hash);
    if (window.location.hash) window.history.replaceState(null, "", window.location.pathname);
    return parsed;
  });

  useEffect(() => {
    if (result.kind === "tokens") {
      session.signIn({
        accessToken: result.accessToken,
        expiresIn: result.expiresIn,
        sessionId: result.sessionId,
      });
      void navigate({ to: HOME, replace: true });
    } else if (result.kind === "challenge") {
      setPendingChallenge(result);
      void navigate({ to: "/sign-in/2fa", search: {}, replace: true });
    }
  }, [result, navigate]);

  if (result.kind === "tokens" || result.kind === "challenge") {
    return (
      <AuthCard title="Signing you in">
        <Loading label="Signing you in…" />
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Sign-in did not complete">
      <Alert testId="oauth-error">
        {result.kind === "error" ? result.message : "This page expects the answer of a sign-in provider, and there is none."}
      </Alert>
      <p>
        <Link to="/sign-in" search={{}}>
          Back to sign in
        </Link>
      </p>
    </AuthCard>
  );
}
