/**
 * The route tree. Every page is its own chunk (lazyRouteComponent), so the first load carries
 * only the shell; guards run before a page loads (decide() in guards.ts).
 *
 * Later features add their routes here (a line each) and their nav entries in guards.ts.
 */
import type { QueryClient } from "@tanstack/react-query";
import {
  createRootRouteWithContext,
  createRoute,
  createRouter,
  lazyRouteComponent,
  redirect,
} from "@tanstack/react-router";
import { AppLayout, Forbidden, NotFound } from "../layout/AppLayout";
import type { Session } from "../session/session";
import { Alert } from "../ui/Alert";
import { decide, HOME, type Requirement, safeRedirect } from "./guards";

export interface RouterContext {
  session: Session;
  queryClient: QueryClient;
  /** Resolves once the session has looked for a session to continue (other tabs, the cookie). */
  sessionReady: Promise<void>;
}

export class ForbiddenError extends Error {
  constructor() {
    super("forbidden");
    this.name = "ForbiddenError";
  }
}

interface GuardArgs {
  context: RouterContext;
  location: { href: string; search: unknown };
}

function guard(requirement: Requirement) {
  return async ({ context, location }: GuardArgs) => {
    await context.sessionReady;
    const result = decide(requirement, context.session.getSnapshot(), location.href);
    switch (result.kind) {
      case "sign-in":
        throw redirect({ to: "/sign-in", search: { redirect: result.redirect } });
      case "redirect": {
        const wanted = (location.search as { redirect?: unknown } | undefined)?.redirect;
        throw redirect({ href: safeRedirect(wanted, result.to), replace: true });
      }
      case "forbidden":
        throw new ForbiddenError();
      default:
        return;
    }
  };
}

function RouteError({ error }: { error: unknown }) {
  if (error instanceof ForbiddenError) return <Forbidden />;
  return (
    <div className="narrow">
      <h1 tabIndex={-1}>Something went wrong</h1>
      <Alert>{error instanceof Error ? error.message : "This page could not be shown."}</Alert>
    </div>
  );
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

const rootRoute = createRootRouteWithContext<RouterContext>()({
  component: AppLayout,
  notFoundComponent: NotFound,
  errorComponent: RouteError,
});

const indexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/",
  beforeLoad: async ({ context }) => {
    await context.sessionReady;
    throw redirect({ to: context.session.signedIn ? HOME : "/status", replace: true });
  },
});

// ---- sign-in and friends ----

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/sign-in",
  validateSearch: (s: Record<string, unknown>): { redirect?: string; reason?: string } => ({
    redirect: str(s.redirect),
    reason: str(s.reason),
  }),
  beforeLoad: guard({ kind: "signed-out" }),
  component: lazyRouteComponent(() => import("../features/auth/SignInPage"), "SignInPage"),
});

const twoFactorRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/sign-in/2fa",
  validateSearch: (s: Record<string, unknown>): { redirect?: string } => ({ redirect: str(s.redirect) }),
  component: lazyRouteComponent(() => import("../features/auth/TwoFactorPage"), "TwoFactorPage"),
});

const phoneSignInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/sign-in/phone",
  validateSearch: (s: Record<string, unknown>): { redirect?: string } => ({ redirect: str(s.redirect) }),
  beforeLoad: guard({ kind: "signed-out" }),
  component: lazyRouteComponent(() => import("../features/auth/PhoneSignInPage"), "PhoneSignInPage"),
});

const registerRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/register",
  beforeLoad: guard({ kind: "signed-out" }),
  component: lazyRouteComponent(() => import("../features/auth/RegisterPage"), "RegisterPage"),
});

const verifyEmailRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/verify-email",
  validateSearch: (s: Record<string, unknown>): { token?: string } => ({ token: str(s.token) }),
  component: lazyRouteComponent(() => import("../features/auth/VerifyEmailPage"), "VerifyEmailPage"),
});

const forgotPasswordRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/forgot-password",
  component: lazyRouteComponent(() => import("../features/auth/ForgotPasswordPage"), "ForgotPasswordPage"),
});

const resetPasswordRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/reset-password",
  validateSearch: (s: Record<string, unknown>): { token?: string } => ({ token: str(s.token) }),
  component: lazyRouteComponent(() => import("../features/auth/ResetPasswordPage"), "ResetPasswordPage"),
});

const oauthCallbackRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/oauth/callback",
  component: lazyRouteComponent(() => import("../features/auth/OAuthCallbackPage"), "OAuthCallbackPage"),
});

// ---- account (signed in) ----

const accountRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/account",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/account/AccountLayout"), "AccountLayout"),
});

const profileRoute = createRoute({
  getParentRoute: () => accountRoute,
  path: "/",
  component: lazyRouteComponent(() => import("../features/account/ProfilePage"), "ProfilePage"),
});

const securityRoute = createRoute({
  getParentRoute: () => accountRoute,
  path: "/security",
  component: lazyRouteComponent(() => import("../features/account/SecurityPage"), "SecurityPage"),
});

const sessionsRoute = createRoute({
  getParentRoute: () => accountRoute,
  path: "/sessions",
  component: lazyRouteComponent(() => import("../features/account/SessionsPage"), "SessionsPage"),
});

// ---- admin (role admin) ----

const adminRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/admin",
  beforeLoad: guard({ kind: "role", role: "admin" }),
  errorComponent: RouteError,
});

const adminIndexRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/",
  beforeLoad: () => {
    throw redirect({ to: "/admin/users", replace: true });
  },
});

const adminUsersRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/users",
  component: lazyRouteComponent(() => import("../features/admin/UsersPage"), "UsersPage"),
});

const adminAuditRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/audit",
  validateSearch: (s: Record<string, unknown>): { subject?: string; actor?: string; action?: string } => ({
    subject: str(s.subject),
    actor: str(s.actor),
    action: str(s.action),
  }),
  component: lazyRouteComponent(() => import("../features/admin/AuditPage"), "AuditPage"),
});

const adminModelsRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/models",
  component: lazyRouteComponent(() => import("../features/admin/ModelsAdminPage"), "ModelsAdminPage"),
});

const adminTrainingRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/training",
  component: lazyRouteComponent(() => import("../features/admin/TrainingPage"), "TrainingPage"),
});
const adminImportRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/import",
  component: lazyRouteComponent(() => import("../features/admin/ImportPage"), "ImportPage"),
});

const adminEducationRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/education",
  component: lazyRouteComponent(() => import("../features/admin/EducationFiguresPage"), "EducationFiguresPage"),
});
const adminBillingRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: "/billing",
  validateSearch: (s: Record<string, unknown>): { user?: string } => ({ user: str(s.user) }),
  component: lazyRouteComponent(() => import("../features/billing/AdminBillingPage"), "AdminBillingPage"),
});

// ---- trading (signed in) ----

const marketRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/market",
  validateSearch: (s: Record<string, unknown>): { symbol?: string; tf?: string } => ({ symbol: str(s.symbol), tf: str(s.tf) }),
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/market/MarketPage"), "MarketPage"),
});

const backtestsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/backtests",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/backtests/BacktestsPage"), "BacktestsPage"),
});

const modelsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/models",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/models/ModelsPage"), "ModelsPage"),
});

// ---- paper trading ----

const portfolioRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/portfolio",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/paper/PortfolioPage"), "PortfolioPage"),
});

// ---- watchlists and alerts ----

const watchlistsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/watchlists",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/alerts/WatchlistsPage"), "WatchlistsPage"),
});

const alertsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/alerts",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/alerts/AlertsPage"), "AlertsPage"),
});

// ---- billing ----

const pricingRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/pricing",
  component: lazyRouteComponent(() => import("../features/billing/PricingPage"), "PricingPage"),
});

const billingRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/billing",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/billing/BillingPage"), "BillingPage"),
});

// ---- education ----

const coursesRoute = createRoute({ getParentRoute: () => rootRoute, path: "/courses", component: lazyRouteComponent(() => import("../features/education/CataloguePage"), "CataloguePage") });
const courseRoute = createRoute({ getParentRoute: () => rootRoute, path: "/courses/$course", component: lazyRouteComponent(() => import("../features/education/CoursePage"), "CoursePage") });
const lessonRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/courses/$course/lessons/$lesson",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/education/LessonPage"), "LessonPage"),
});
const learningRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/learning",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/education/MyLearningPage"), "MyLearningPage"),
});
const certificateRoute = createRoute({ getParentRoute: () => rootRoute, path: "/certificates/$code", component: lazyRouteComponent(() => import("../features/education/CertificatePage"), "CertificatePage") });
// Instructors and admins: the API decides (AuthoringService's access rule); signed in is enough to ask.
const authoringRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/authoring",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/education/AuthoringPage"), "AuthoringPage"),
});
const courseEditorRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/authoring/$courseId",
  beforeLoad: guard({ kind: "signed-in" }),
  component: lazyRouteComponent(() => import("../features/education/CourseEditorPage"), "CourseEditorPage"),
});

// ---- public ----

const apiReferenceRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/api-reference",
  component: lazyRouteComponent(() => import("../features/apiReference/ApiReferencePage"), "ApiReferencePage"),
});

const statusRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/status",
  component: lazyRouteComponent(() => import("../features/status/StatusPage"), "StatusPage"),
});

export const routeTree = rootRoute.addChildren([
  indexRoute,
  signInRoute,
  twoFactorRoute,
  phoneSignInRoute,
  registerRoute,
  verifyEmailRoute,
  forgotPasswordRoute,
  resetPasswordRoute,
  oauthCallbackRoute,
  accountRoute.addChildren([profileRoute, securityRoute, sessionsRoute]),
  adminRoute.addChildren([
    adminIndexRoute,
    adminUsersRoute,
    adminAuditRoute,
    adminModelsRoute,
    adminTrainingRoute,
    adminImportRoute,
    adminEducationRoute,
    adminBillingRoute,
  ]),
  statusRoute,
  apiReferenceRoute,
  marketRoute,
  backtestsRoute,
  modelsRoute,
  portfolioRoute,
  watchlistsRoute,
  alertsRoute,
  pricingRoute,
  billingRoute,
  coursesRoute,
  courseRoute,
  lessonRoute,
  learningRoute,
  certificateRoute,
  authoringRoute,
  courseEditorRoute,
]);

export function makeRouter(context: RouterContext) {
  return createRouter({
    routeTree,
    context,
    defaultPreload: "intent",
    scrollRestoration: true,
    defaultPendingMs: 300,
  });
}

declare module "@tanstack/react-router" {
  interface Register {
    router: ReturnType<typeof makeRouter>;
  }
}
