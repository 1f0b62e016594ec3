import { Link, useNavigate } from "@tanstack/react-router";
import { useEffect, useRef, useState } from "react";
import { HOME } from "../../routes/guards";
import { session, useSession } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { AuthCard } from "../../ui/page";
import { setPendingChallenge } from "./challenge";
import { type CallbackAction, decideCallback, NOT_STARTED_HERE, takeOAuthStarted } from "./oauthPending";
import { parseOAuthFragment } from "./oauthResult";

/**
 * Where the gateway sends the browser after an OAuth sign-in, the result in the fragment
 * (OAUTH_SUCCESS_REDIRECT=<web app>/oauth/callback). The fragment is read once and removed
 * from the address bar and history at once. It is taken only when this tab pressed an OAuth
 * button shortly before (oauthPending.ts: a crafted link cannot sign anyone in, nor put its text
 * on the page), and never replaces a session that is signed in already.
 */
export function OAuthCallbackPage() {
  const navigate = useNavigate();
  const snapshot = useSession();
  // One read (React keeps the first run of an initializer): the fragment and this tab's marker.
  const [read] = useState(() => {
    const result = parseOAuthFragment(window.location.hash);
    if (window.location.hash) window.history.replaceState(null, "", window.location.pathname);
    const started = result.kind === "none" ? false : takeOAuthStarted();
    return { result, started };
  });
  // Decided once the session knows whether someone is signed in (the reload restores it first).
  const [action, setAction] = useState<CallbackAction | null>(null);
  const acted = useRef(false);

  useEffect(() => {
    if (acted.current || snapshot.status === "restoring") return;
    acted.current = true;
    const next = decideCallback(read.result, read.started, snapshot.status === "signed-in");
    setAction(next);
    if (next.kind === "sign-in") {
      session.signIn({
        accessToken: next.result.accessToken,
        expiresIn: next.result.expiresIn,
        sessionId: next.result.sessionId,
      });
      void navigate({ to: HOME, replace: true });
    } else if (next.kind === "keep-session") {
      void navigate({ to: HOME, replace: true });
    } else if (next.kind === "challenge") {
      setPendingChallenge(next.result);
      void navigate({ to: "/sign-in/2fa", search: {}, replace: true });
    }
  }, [read, snapshot.status, navigate]);

  if (action === null || action.kind === "sign-in" || action.kind === "challenge" || action.kind === "keep-session") {
    return (
      <AuthCard title="Signing you in">
        <Loading label="Signing you in…" />
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Sign-in did not complete">
      <Alert testId="oauth-error">
        {action.kind === "error"
          ? action.message
          : action.kind === "not-started"
            ? NOT_STARTED_HERE
            : "This page expects the answer of a sign-in provider, and there is none."}
      </Alert>
      <p>
        <Link to="/sign-in" search={{}}>
          Back to sign in
        </Link>
      </p>
    </AuthCard>
  );
}
