import { useSyncExternalStore } from "react";
import type { TokenPair } from "@gen/trading/identity/v1/identity_pb";
import { authClient } from "../api/authClient";
import { setTokenSource } from "../api/transport";
import { browserChannel, browserLock } from "./crossTab";
import { type AuthApi, Session, type SessionMessage, type SessionSnapshot, type TokenGrant } from "./session";

export function grantOf(tokens: TokenPair | undefined): TokenGrant {
  if (!tokens?.accessToken) throw new Error("the server answered without tokens");
  return {
    accessToken: tokens.accessToken,
    expiresIn: tokens.expiresIn,
    sessionId: tokens.sessionId,
  };
}

const api: AuthApi = {
  // An empty refresh_token: the edge reads the httpOnly cookie (authTransport sends it).
  async refresh() {
    const res = await authClient.refresh({});
    return grantOf(res.tokens);
  },
  async logout() {
    await authClient.logout({});
  },
};

/** This tab's session (one per page). */
export const session = new Session({
  api,
  lock: browserLock(),
  channel: browserChannel<SessionMessage>("trading-session"),
});

setTokenSource(session);

if (typeof document !== "undefined") {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") session.wake();
  });
}

/** The session as React state. */
export function useSession(): SessionSnapshot {
  return useSyncExternalStore(session.subscribe, session.getSnapshot);
}
