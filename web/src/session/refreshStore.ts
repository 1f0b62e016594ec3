import type { RefreshMode } from "../config";

/**
 * Where the refresh token lives: the one place that changes when the edge starts keeping it in
 * an httpOnly cookie.
 *
 * - MemoryRefreshStore (today): the token is a variable in this tab; it is never written to
 *   localStorage, sessionStorage or a cookie. A reload loses it (the session does not survive).
 * - CookieRefreshStore: the page never sees the token. Refresh and Logout are sent with an
 *   empty refresh_token and `credentials: "include"`; the edge reads the cookie.
 */
export interface RefreshStore {
  readonly mode: RefreshMode;
  /** The token to send with Refresh/Logout ("" in cookie mode: the edge fills it in). */
  read(): string;
  /** Keeps the token a sign-in or refresh returned (ignored in cookie mode). */
  write(token: string): void;
  clear(): void;
  /** Whether this store could have a session to refresh right now. */
  mayRefresh(): boolean;
}

export class MemoryRefreshStore implements RefreshStore {
  readonly mode = "memory" as const;
  #token = "";
  read(): string {
    return this.#token;
  }
  write(token: string): void {
    this.#token = token;
  }
  clear(): void {
    this.#token = "";
  }
  mayRefresh(): boolean {
    return this.#token !== "";
  }
}

export class CookieRefreshStore implements RefreshStore {
  readonly mode = "cookie" as const;
  read(): string {
    return "";
  }
  write(): void {}
  clear(): void {}
  mayRefresh(): boolean {
    // Only the edge knows whether the cookie is there: try.
    return true;
  }
}

export function createRefreshStore(mode: RefreshMode): RefreshStore {
  return mode === "cookie" ? new CookieRefreshStore() : new MemoryRefreshStore();
}
