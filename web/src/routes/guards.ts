/**
 * Who may open which route, as pure functions (the router calls them in beforeLoad; tests call
 * them directly). The API refuses anyway: these only decide what the page shows.
 */
export type Requirement =
  | { kind: "public" }
  | { kind: "signed-in" }
  | { kind: "role"; role: string }
  /** Sign-in, registration...: a signed-in visitor goes on to where they were headed. */
  | { kind: "signed-out" };

export interface GuardSession {
  status: "restoring" | "signed-in" | "signed-out";
  user: { roles: readonly string[] } | null;
}

export type GuardResult =
  | { kind: "allow" }
  | { kind: "sign-in"; redirect: string }
  | { kind: "forbidden" }
  | { kind: "redirect"; to: string };

/** Where a signed-in user lands by default. */
export const HOME = "/account";

/** Pages that make no sense as a destination after signing in (they would loop). */
const AUTH_PAGES = ["/sign-in", "/register", "/forgot-password", "/reset-password", "/verify-email", "/oauth"];

/**
 * A redirect target from a query parameter: only a path of this site (no scheme, no host, no
 * "//evil.example"), never an auth page; anything else gives `fallback`.
 */
export function safeRedirect(value: unknown, fallback = HOME): string {
  if (typeof value !== "string" || value.length > 2000) return fallback;
  if (!value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return fallback;
  let url: URL;
  try {
    url = new URL(value, "http://app.invalid");
  } catch {
    return fallback;
  }
  if (url.origin !== "http://app.invalid") return fallback;
  // Dot segments can leave "//host" once resolved ("/.//evil.example", "/a/..//evil.example"),
  // which the browser would take as another site: refuse whatever starts like one.
  if (url.pathname.startsWith("//") || url.pathname.startsWith("/\\") || /^\/[a-z][a-z0-9+.-]*:/i.test(url.pathname)) return fallback;
  if (AUTH_PAGES.some((p) => url.pathname === p || url.pathname.startsWith(`${p}/`))) return fallback;
  return url.pathname + url.search + url.hash;
}

export function decide(requirement: Requirement, session: GuardSession, href: string): GuardResult {
  const signedIn = session.status === "signed-in" && session.user !== null;
  switch (requirement.kind) {
    case "public":
      return { kind: "allow" };
    case "signed-out":
      return signedIn ? { kind: "redirect", to: HOME } : { kind: "allow" };
    case "signed-in":
      return signedIn ? { kind: "allow" } : { kind: "sign-in", redirect: safeRedirect(href) };
    case "role":
      if (!signedIn) return { kind: "sign-in", redirect: safeRedirect(href) };
      return session.user!.roles.includes(requirement.role) ? { kind: "allow" } : { kind: "forbidden" };
  }
}

/** Navigation entries and who sees them (the layout filters with `visible`). */
export interface NavItem {
  to: string;
  label: string;
  requirement: Requirement;
}

export const NAV_ITEMS: NavItem[] = [
  { to: "/status", label: "Status", requirement: { kind: "public" } },
  { to: "/api-reference", label: "API", requirement: { kind: "public" } },
  { to: "/market", label: "Market", requirement: { kind: "signed-in" } },
  { to: "/backtests", label: "Backtests", requirement: { kind: "signed-in" } },
  { to: "/models", label: "Models", requirement: { kind: "signed-in" } },
  { to: "/portfolio", label: "Paper trading", requirement: { kind: "signed-in" } },
  { to: "/watchlists", label: "Watchlists", requirement: { kind: "signed-in" } },
  { to: "/alerts", label: "Alerts", requirement: { kind: "signed-in" } },
  { to: "/account", label: "Account", requirement: { kind: "signed-in" } },
  { to: "/admin/users", label: "Users", requirement: { kind: "role", role: "admin" } },
  { to: "/admin/audit", label: "Audit log", requirement: { kind: "role", role: "admin" } },
  { to: "/admin/models", label: "Model versions", requirement: { kind: "role", role: "admin" } },
  { to: "/admin/training", label: "Training runs", requirement: { kind: "role", role: "admin" } },
  { to: "/admin/import", label: "Import", requirement: { kind: "role", role: "admin" } },
  { to: "/admin/education", label: "Education figures", requirement: { kind: "role", role: "admin" } },
  { to: "/admin/billing", label: "Revenue", requirement: { kind: "role", role: "admin" } },
  { to: "/courses", label: "Courses", requirement: { kind: "public" } },
  { to: "/learning", label: "My learning", requirement: { kind: "signed-in" } },
  { to: "/authoring", label: "Authoring", requirement: { kind: "role", role: "instructor" } },
];

export function visible(items: NavItem[], session: GuardSession): NavItem[] {
  return items.filter((item) => decide(item.requirement, session, item.to).kind === "allow");
}
