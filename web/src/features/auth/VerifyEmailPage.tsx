import { useQuery } from "@tanstack/react-query";
import { Link, useSearch } from "@tanstack/react-router";
import { authClient } from "../../api/authClient";
import { toApiError } from "../../api/errors";
import { useSession } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { AuthCard } from "../../ui/page";

/** The page the verification mail links to: /verify-email?token=... */
export function VerifyEmailPage() {
  const { token } = useSearch({ from: "/verify-email" });
  const signedIn = useSession().status === "signed-in";
  // A query, not an effect: it runs once per token even when React mounts twice, and the
  // token is single-use.
  const result = useQuery({
    queryKey: ["verify-email", token],
    queryFn: () => authClient.verifyEmail({ token: token ?? "" }),
    enabled: Boolean(token),
    retry: false,
    staleTime: Infinity,
    gcTime: Infinity,
  });
  const next = signedIn ? (
    <Link to="/account">Go to your account</Link>
  ) : (
    <Link to="/sign-in" search={{}}>
      Sign in
    </Link>
  );

  return (
    <AuthCard title="Verify your email">
      {!token && <Alert>This link has no token. Open the link from the email again, or copy all of it.</Alert>}
      {result.isPending && token && <Loading label="Checking the link…" />}
      {result.isError && (
        <Alert testId="verify-error">
          {toApiError(result.error, { unauthenticated: "This link is invalid, already used or expired." }).message}
        </Alert>
      )}
      {result.isSuccess && (
        <Alert tone="success" testId="verify-done">
          Your email address is verified.
        </Alert>
      )}
      {(result.isSuccess || result.isError || !token) && <p>{next}</p>}
      {result.isError && signedIn && (
        <p className="muted">You can ask for a new link on your account page.</p>
      )}
    </AuthCard>
  );
}
