/**
 * The signed-in session of this browser tab.
 *
 * - The access token lives only in this object (memory). It is never written to
 *   localStorage, sessionStorage or a cookie.
 * - The refresh token is never seen by the page: the edge keeps it in an httpOnly cookie
 *   (envoy/refresh_cookie.lua), sets it on sign-in, reads and rotates it on Refresh, expires it
 *   on Logout. Refresh and Logout go out with an empty refresh_token (api/transport.ts:
 *   `authTransport`, credentials included).
 * - A refresh is scheduled before the access token expires (schedule.ts). One refresh at a time
 *   across all tabs of this origin: a Web Lock around the Refresh call, and the winner hands the
 *   new tokens to the other tabs over a BroadcastChannel; a tab that waited for the lock uses a
 *   newer token than the one it started with instead of refreshing again, asking the open tabs
 *   for it first when it has not arrived yet (the channel may deliver after the lock).
 * - A new tab (or a reload) asks the open ones for the session ("hello"), else refreshes with the
 *   cookie: the session survives a reload.
 * - Logout, a revoked session or a refused refresh end the session in every tab.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { ChannelLike, LockLike } from "./crossTab";
import { type AccessClaims, decodeClaims } from "./jwt";
import { isFresh, refreshDelayMs, retryBackoffMs } from "./schedule";

/** What a sign-in or a refresh returns (trading.identity.v1.TokenPair, the fields we use). */
export interface TokenGrant {
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  sessionId: string;
}

/** AuthService's Refresh and Logout, as the session needs them (the refresh token is the cookie's). */
export interface AuthApi {
  refresh(): Promise<TokenGrant>;
  logout(): Promise<void>;
}

export type EndReason = "logout" | "expired" | "revoked";

export interface SessionUser {
  id: string;
  roles: readonly string[];
  plan: string;
  sessionId: string;
}

export interface SessionSnapshot {
  /** "restoring" until start() has looked for a session (other tabs, the cookie). */
  status: "restoring" | "signed-in" | "signed-out";
  user: SessionUser | null;
  /** Why the last session ended, until the next sign-in. */
  ended: EndReason | null;
}

interface Current {
  accessToken: string;
  /** Local clock, ms. */
  expiresAt: number;
  lifetimeMs: number;
  /** Local clock when these tokens were issued: the newest wins across tabs. */
  issuedAt: number;
  sessionId: string;
  claims: AccessClaims;
}

interface WireSession {
  accessToken: string;
  expiresAt: number;
  lifetimeMs: number;
  issuedAt: number;
  sessionId: string;
}

export type SessionMessage =
  | { type: "hello"; from: string }
  | { type: "session"; from: string; session: WireSession }
  | { type: "ended"; from: string; sessionId: string; reason: EndReason };

export interface SessionDeps {
  api: AuthApi;
  lock: LockLike;
  channel: ChannelLike<SessionMessage>;
  now?: () => number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** How long a new tab waits for an open one to share its session. */
  helloWaitMs?: number;
}

export const LOCK_NAME = "trading-session-refresh";

function newId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

/** A refused refresh (the token is spent, revoked or expired; the user is suspended). */
export function isDefinitiveRefreshFailure(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return code === Code.Unauthenticated || code === Code.PermissionDenied;
}

function isWireSession(v: unknown): v is WireSession {
  if (!v || typeof v !== "object") return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.accessToken === "string" &&
    typeof s.expiresAt === "number" &&
    typeof s.lifetimeMs === "number" &&
    typeof s.issuedAt === "number" &&
    typeof s.sessionId === "string"
  );
}

export class Session {
  readonly id = newId();
  #deps: Required<SessionDeps>;
  #current: Current | null = null;
  #snapshot: SessionSnapshot = { status: "restoring", user: null, ended: null };
  #listeners = new Set<() => void>();
  #endListeners = new Set<(reason: EndReason) => void>();
  #timer: unknown = null;
  #inflight: Promise<Current | null> | null = null;
  #failedAttempts = 0;
  #unlisten: (() => void) | null = null;
  #helloWaiter: (() => void) | null = null;

  constructor(deps: SessionDeps) {
    this.#deps = {
      now: () => Date.now(),
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      helloWaitMs: 150,
      ...deps,
    };
  }

  // ---- observing ----

  getSnapshot = (): SessionSnapshot => this.#snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Called when a session ends (here or in another tab), with the reason. */
  onEnded(listener: (reason: EndReason) => void): () => void {
    this.#endListeners.add(listener);
    return () => this.#endListeners.delete(listener);
  }

  get signedIn(): boolean {
    return this.#current !== null;
  }

  hasRole(role: string): boolean {
    return this.#current?.claims.roles.includes(role) ?? false;
  }

  // ---- lifecycle ----

  /** Listens to the other tabs and looks for a session to continue. */
  async start(): Promise<void> {
    if (!this.#unlisten) this.#unlisten = this.#deps.channel.listen((m) => this.#onMessage(m));
    if (!this.#current) {
      await this.#askOtherTabs();
    }
    if (!this.#current) {
      try {
        await this.refresh();
      } catch {
        // No cookie, or the edge is unreachable: signed out; the next sign-in starts over.
      }
    }
    if (!this.#current) this.#publish({ status: "signed-out", user: null, ended: this.#snapshot.ended });
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = null;
    this.#cancelTimer();
  }

  /** After a sign-in: keep the tokens, tell the other tabs, schedule the refresh. */
  signIn(grant: TokenGrant): void {
    const current = this.#adopt(grant);
    this.#broadcast(current);
  }

  /** The access token for a call: refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    const current = this.#current;
    if (!current) return null;
    if (isFresh(current.expiresAt, current.lifetimeMs, this.#deps.now())) return current.accessToken;
    try {
      const renewed = await this.refresh();
      return renewed?.accessToken ?? null;
    } catch {
      // A passing failure (network, 503): the old token may still be accepted.
      return this.#current?.accessToken ?? null;
    }
  }

  /**
   * A call was refused with UNAUTHENTICATED while using `failedToken`: a newer token if there is
   * one (another tab refreshed, or a refresh succeeds now), else null (the session has ended).
   */
  async recover(failedToken: string): Promise<string | null> {
    const current = this.#current;
    if (!current) return null;
    if (current.accessToken !== failedToken) return current.accessToken;
    try {
      const renewed = await this.refresh();
      return renewed && renewed.accessToken !== failedToken ? renewed.accessToken : null;
    } catch {
      return null;
    }
  }

  /**
   * One refresh at a time, in this tab and across tabs. Resolves to the session afterwards
   * (null when it ended); rejects on a passing failure, keeping the session.
   */
  refresh(): Promise<Current | null> {
    if (this.#inflight) return this.#inflight;
    const startedWith = this.#current?.issuedAt ?? 0;
    const run = this.#deps.lock.run(LOCK_NAME, async (waited) => {
      // While this tab waited for the lock, another one may have refreshed and shared it. Its
      // tokens may still be on their way: nothing orders the channel's message before the lock's
      // grant, so a tab that waited asks the open ones before refreshing the same session again.
      if (waited && (this.#current?.issuedAt ?? 0) <= startedWith) await this.#askOtherTabs();
      const current = this.#current;
      if (current && current.issuedAt > startedWith) return current;
      let grant: TokenGrant;
      try {
        grant = await this.#deps.api.refresh();
      } catch (err) {
        const latest = this.#current;
        if (latest && latest.issuedAt > startedWith) return latest; // a newer one arrived meanwhile
        if (isDefinitiveRefreshFailure(err)) {
          if (this.#current) this.#end("expired", true);
          return null;
        }
        this.#scheduleRetry();
        throw err;
      }
      const next = this.#adopt(grant);
      this.#broadcast(next);
      return next;
    });
    this.#inflight = run.finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  /** Ends the session at the server (best effort) and in every tab. */
  async logout(): Promise<void> {
    this.#end("logout", true);
    try {
      await this.#deps.api.logout(); // ends the session and expires the cookie
    } catch {
      // The local session is gone either way; the server's ends when its tokens expire.
    }
  }

  /** A call found the session revoked or expired and no refresh could renew it. */
  expire(reason: EndReason = "expired"): void {
    if (this.#current) this.#end(reason, true);
  }

  /** After the tab was hidden (timers are throttled then): refresh now if due. */
  wake(): void {
    const current = this.#current;
    if (current && !isFresh(current.expiresAt, current.lifetimeMs, this.#deps.now())) {
      this.refresh().catch(() => {});
    }
  }

  // ---- internals ----

  #adopt(grant: TokenGrant, issuedAt = this.#deps.now()): Current {
    const claims = decodeClaims(grant.accessToken);
    if (!claims) throw new Error("the server returned an access token that is not a JWT");
    const lifetimeMs = Math.max(1, grant.expiresIn) * 1000;
    const current: Current = {
      accessToken: grant.accessToken,
      expiresAt: issuedAt + lifetimeMs,
      lifetimeMs,
      issuedAt,
      sessionId: grant.sessionId || claims.sid,
      claims,
    };
    return this.#set(current);
  }

  #set(current: Current): Current {
    this.#current = current;
    this.#failedAttempts = 0;
    this.#schedule(current);
    const user: SessionUser = {
      id: current.claims.sub,
      roles: current.claims.roles,
      plan: current.claims.plan,
      sessionId: current.sessionId,
    };
    const same = this.#snapshot.user;
    const unchanged =
      this.#snapshot.status === "signed-in" &&
      same !== null &&
      same.id === user.id &&
      same.sessionId === user.sessionId &&
      same.plan === user.plan &&
      same.roles.join() === user.roles.join();
    if (!unchanged) this.#publish({ status: "signed-in", user, ended: null });
    this.#helloWaiter?.();
    return current;
  }

  #end(reason: EndReason, broadcast: boolean): void {
    const sessionId = this.#current?.sessionId ?? "";
    this.#current = null;
    this.#cancelTimer();
    this.#publish({ status: "signed-out", user: null, ended: reason });
    if (broadcast) this.#deps.channel.post({ type: "ended", from: this.id, sessionId, reason });
    for (const listener of this.#endListeners) listener(reason);
  }

  #publish(snapshot: SessionSnapshot): void {
    this.#snapshot = snapshot;
    for (const listener of this.#listeners) listener();
  }

  #wire(current: Current): WireSession {
    return {
      accessToken: current.accessToken,
      expiresAt: current.expiresAt,
      lifetimeMs: current.lifetimeMs,
      issuedAt: current.issuedAt,
      sessionId: current.sessionId,
    };
  }

  #broadcast(current: Current): void {
    this.#deps.channel.post({ type: "session", from: this.id, session: this.#wire(current) });
  }

  #onMessage(message: SessionMessage): void {
    if (!message || typeof message !== "object" || message.from === this.id) return;
    switch (message.type) {
      case "hello":
        if (this.#current) this.#broadcast(this.#current);
        break;
      case "session": {
        const s = message.session;
        if (!isWireSession(s) || !decodeClaims(s.accessToken)) return;
        if (this.#current && this.#current.issuedAt >= s.issuedAt) return;
        const claims = decodeClaims(s.accessToken)!;
        this.#set({
          accessToken: s.accessToken,
          expiresAt: s.expiresAt,
          lifetimeMs: s.lifetimeMs,
          issuedAt: s.issuedAt,
          sessionId: s.sessionId,
          claims,
        });
        break;
      }
      case "ended":
        if (this.#current && (!message.sessionId || message.sessionId === this.#current.sessionId)) {
          this.#end(message.reason, false);
        }
        break;
    }
  }

  async #askOtherTabs(): Promise<void> {
    const found = new Promise<void>((resolve) => {
      this.#helloWaiter = resolve;
      this.#deps.setTimer(resolve, this.#deps.helloWaitMs);
    });
    this.#deps.channel.post({ type: "hello", from: this.id });
    await found;
    this.#helloWaiter = null;
  }

  #schedule(current: Current): void {
    this.#cancelTimer();
    const delay = refreshDelayMs(current.expiresAt, current.lifetimeMs, this.#deps.now(), this.#deps.random());
    this.#timer = this.#deps.setTimer(() => {
      this.#timer = null;
      this.refresh().catch(() => {});
    }, delay);
  }

  #scheduleRetry(): void {
    if (!this.#current) return;
    this.#cancelTimer();
    const delay = retryBackoffMs(this.#failedAttempts++);
    this.#timer = this.#deps.setTimer(() => {
      this.#timer = null;
      this.refresh().catch(() => {});
    }, delay);
  }

  #cancelTimer(): void {
    if (this.#timer !== null) this.#deps.clearTimer(this.#timer);
    this.#timer = null;
  }
}
