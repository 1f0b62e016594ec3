import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { RouterProvider } from "@tanstack/react-router";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { isUnauthenticated } from "./api/errors";
import { safeRedirect } from "./routes/guards";
import { makeRouter } from "./routes/router";
import { session } from "./session/instance";
import { clearToastsWhenSessionEnds } from "./ui/toast";
import "./styles/tokens.css";
import "./styles/base.css";
import "./styles/components.css";
import "./styles/trading.css";

// An OAuth sign-in comes back with its result in the URL fragment (never sent to a server);
// whatever page the gateway sent it to, the callback page reads it.
if (/(^|[#&])(access_token|challenge_token|error)=/.test(window.location.hash) && window.location.pathname !== "/oauth/callback") {
  window.history.replaceState(null, "", `/oauth/callback${window.location.hash}`);
}

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      refetchOnWindowFocus: false,
      // An expired session or a refused call is not worth repeating.
      retry: (count, error) => count < 2 && !isUnauthenticated(error),
    },
  },
});

const sessionReady = session.start();
const router = makeRouter({ session, queryClient, sessionReady });

// Guards depend on who is signed in: re-run them when that changes.
let lastUser = session.getSnapshot().user?.id ?? null;
let lastRoles = session.getSnapshot().user?.roles.join() ?? "";
session.subscribe(() => {
  const snap = session.getSnapshot();
  const user = snap.user?.id ?? null;
  const roles = snap.user?.roles.join() ?? "";
  if (user !== lastUser) queryClient.clear();
  if (user !== lastUser || roles !== lastRoles) void router.invalidate();
  lastUser = user;
  lastRoles = roles;
});

// A session that ends (logout here or in another tab, revoked, expired) returns to sign-in;
// unless it was a logout, sign-in brings the user back to the same page.
// An alert or order toast of the last user does not outlive the session.
clearToastsWhenSessionEnds(session);
session.onEnded((reason) => {
  const here = router.state.location.href;
  if (reason === "logout") {
    void router.navigate({ to: "/sign-in", search: { reason: "logout" } });
  } else {
    void router.navigate({ to: "/sign-in", search: { redirect: safeRedirect(here), reason } });
  }
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
